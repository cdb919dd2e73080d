"""Timers on one shared thread, for timers that are armed per invocation and rarely fire.

Why not ``threading.Timer``: each one is a new OS thread, and ``start()`` waits until
that thread runs. A warm invocation armed two of them (the init's timeout and
LocalStack's keep-alive for the environment it returns to the pool), at 0.1-0.6 ms each
on our 2-core hosts, while almost none ever fires: the next invocation cancels them.
Why not the standard library's ``sched``: its ``run()`` cannot be woken when an earlier
deadline is added from another thread, so it needs this loop around it anyway.

Standard library only: the init process imports this module beside its own script,
without site-packages.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any


class _Entry:
    __slots__ = ("cancelled", "deadline", "function", "seq")

    def __init__(self, deadline: float, seq: int, function: Callable[[], Any]) -> None:
        self.deadline = deadline
        self.seq = seq
        self.function = function
        self.cancelled = False

    def __lt__(self, other: _Entry) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class Scheduler:
    """Deadlines on one daemon thread; a due function runs on a thread of its own, so a
    slow one (stopping an environment) cannot delay the others."""

    def __init__(self, name: str = "eda-timers") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[_Entry] = []
        self._cancelled = 0
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, function: Callable[[], Any]) -> _Entry:
        entry = _Entry(time.monotonic() + max(0.0, delay), next(self._seq), function)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    def cancel(self, entry: _Entry) -> None:
        with self._cond:
            if entry.cancelled:
                return
            entry.cancelled = True
            self._cancelled += 1
            # Cancelled entries stay in the heap until due; rebuild it once they are the
            # majority, so a long keep-alive armed on every invocation cannot pile up.
            if self._cancelled > 32 and self._cancelled * 2 > len(self._heap):
                self._heap = [e for e in self._heap if not e.cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def pending(self) -> int:
        """Armed and not cancelled (for tests and the soak's bounds)."""
        with self._cond:
            return len(self._heap) - self._cancelled

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0].deadline > time.monotonic():
                    timeout = self._heap[0].deadline - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                entry = heapq.heappop(self._heap)
                if entry.cancelled:
                    self._cancelled -= 1
                    continue
                # Marked so that a cancel() racing with the run is a no-op.
                entry.cancelled = True
            threading.Thread(target=entry.function, name=f"{self._name}-fire", daemon=True).start()


_shared: Scheduler | None = None
_shared_lock = threading.Lock()


def shared() -> Scheduler:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Scheduler()
        return _shared


class Timer:
    """``threading.Timer``'s interface (``start``, ``cancel``, ``interval``,
    ``function``, ``args``, ``kwargs``) on the shared scheduler."""

    def __init__(
        self,
        interval: float,
        function: Callable[..., Any],
        args: Any = None,
        kwargs: Any = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.interval = interval
        self.function = function
        self.args = args if args is not None else []
        self.kwargs = kwargs if kwargs is not None else {}
        self.daemon = True
        self._scheduler = scheduler or shared()
        self._entry: _Entry | None = None
        self._lock = threading.Lock()
        self._cancelled = False

    def start(self) -> None:
        with self._lock:
            if self._entry is not None:
                raise RuntimeError("timers can only be started once")
            if self._cancelled:
                return  # threading.Timer: cancelled before start never runs
            self._entry = self._scheduler.call_later(self.interval, self._fire)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            entry = self._entry
        if entry is not None:
            self._scheduler.cancel(entry)

    def _fire(self) -> None:
        self.function(*self.args, **self.kwargs)
