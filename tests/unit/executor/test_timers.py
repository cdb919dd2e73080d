"""The shared timer thread: threading.Timer's behaviour without a thread per timer."""

from __future__ import annotations

import threading
import time

from eda_sandbox.executor import timers
from eda_sandbox.testing import wait_until


def test_a_timer_fires_once_after_its_interval_with_its_arguments() -> None:
    seen: list[tuple[str, int]] = []
    started = time.monotonic()
    timers.Timer(0.05, lambda a, b=0: seen.append((a, b)), args=["x"], kwargs={"b": 2}).start()
    wait_until(lambda: seen, timeout=5)
    assert seen == [("x", 2)]
    assert time.monotonic() - started >= 0.05


def test_a_cancelled_timer_never_fires_even_when_cancelled_before_start() -> None:
    fired = threading.Event()
    early = timers.Timer(0.01, fired.set)
    early.start()
    early.cancel()
    never = timers.Timer(0.01, fired.set)
    never.cancel()
    never.start()
    later = threading.Event()
    timers.Timer(0.05, later.set).start()  # fires after both would have
    wait_until(later.is_set, timeout=5)
    assert not fired.is_set()


def test_an_earlier_deadline_wakes_the_thread_that_waits_for_a_later_one() -> None:
    scheduler = timers.Scheduler(name="test-wake")
    order: list[str] = []
    timers.Timer(30, lambda: order.append("late"), scheduler=scheduler).start()
    timers.Timer(0.02, lambda: order.append("early"), scheduler=scheduler).start()
    wait_until(lambda: order, timeout=5)
    assert order == ["early"]


def test_a_slow_function_does_not_hold_back_the_next_deadline() -> None:
    scheduler = timers.Scheduler(name="test-slow")
    release = threading.Event()
    second = threading.Event()
    timers.Timer(0.01, release.wait, scheduler=scheduler).start()  # blocks its own thread
    timers.Timer(0.03, second.set, scheduler=scheduler).start()
    try:
        wait_until(second.is_set, timeout=5)
    finally:
        release.set()


def test_cancelled_timers_do_not_pile_up_in_the_heap() -> None:
    # A keep-alive of minutes armed and cancelled on every invocation must stay bounded.
    scheduler = timers.Scheduler(name="test-bound")
    live = timers.Timer(600, lambda: None, scheduler=scheduler)
    live.start()
    for _ in range(10_000):
        t = timers.Timer(600, lambda: None, scheduler=scheduler)
        t.start()
        t.cancel()
    assert scheduler.pending() == 1
    assert len(scheduler._heap) < 100


def test_starting_twice_is_refused_like_threading_timer() -> None:
    t = timers.Timer(60, lambda: None)
    t.start()
    try:
        try:
            t.start()
        except RuntimeError:
            pass
        else:
            raise AssertionError("a second start() must raise")
    finally:
        t.cancel()
