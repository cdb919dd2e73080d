"""Save what changed, every ``interval`` seconds on a daemon thread, and once more at stop.

LocalStack's snapshot persistence (save strategies ``ON_SHUTDOWN``, ``SCHEDULED`` with
``SNAPSHOT_FLUSH_INTERVAL``) is in LocalStack Pro only: localstack-core 2026.3 ships the
state API (``localstack.state``: visitors, lifecycle hooks, the pickle codec) and the
config variables, but nothing that reads them. moto has no persistence at all. This is
the ``SCHEDULED`` strategy plus an ``ON_SHUTDOWN`` save, over LocalStack's state API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

LOG = logging.getLogger(__name__)


class Flusher:
    """Calls ``save(name)`` for each name marked dirty since its last save.

    ``mark`` is called on the request path, so it only adds to a set (atomic under the
    GIL); the saving happens on the flusher's own thread.
    """

    def __init__(self, save: Callable[[str], None], interval: float, thread_name: str) -> None:
        self._save = save
        self._interval = interval
        self._dirty: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        # One save at a time: the periodic one and the final one must not interleave.
        self._saving = threading.Lock()

    def mark(self, name: str) -> None:
        self._dirty.add(name)

    def start(self) -> None:
        self._thread.start()

    def flush(self, names: Iterable[str] = ()) -> None:
        """Save the dirty names and ``names``; a failed save stays dirty for the next."""
        with self._saving:
            pending = set(names)
            while self._dirty:
                pending.add(self._dirty.pop())
            for name in sorted(pending):
                try:
                    self._save(name)
                except Exception:  # a save must never kill the flusher; retried next tick
                    self._dirty.add(name)
                    LOG.exception("saving the state of %s failed; retrying", name)

    def stop(self, final: Iterable[str] = ()) -> None:
        """Stop the thread, then save the dirty names and ``final`` one last time."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)
        self.flush(final)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
