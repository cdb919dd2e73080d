"""Speed-ups inside LocalStack: each takes effect, and keeps behaviour where it must
(request logs a handler would print, FIFO order and concurrency limits)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from localstack.aws.handlers.logging import ResponseLogger

from eda_sandbox import speedups


@pytest.fixture
def restore_logging() -> Iterator[None]:
    original = ResponseLogger._log
    loggers = [logging.getLogger(n) for n in ("localstack", "localstack.request")]
    saved = [(lg, lg.level, list(lg.handlers)) for lg in [*loggers, logging.getLogger()]]
    yield
    ResponseLogger._log = original  # type: ignore[method-assign]
    for lg, level, handlers in saved:
        lg.setLevel(level)
        lg.handlers[:] = handlers


def _configure(handler_level: int) -> None:
    root = logging.getLogger()
    root.handlers[:] = [logging.NullHandler(level=handler_level)]
    logging.getLogger("localstack.request").setLevel(logging.INFO)  # as LocalStack pins it


def test_skipped_when_handlers_only_show_warnings(restore_logging: None) -> None:
    original = ResponseLogger._log
    _configure(logging.WARNING)
    speedups.skip_unseen_request_logs()
    assert ResponseLogger._log is not original


def test_kept_when_an_info_handler_would_print_them(restore_logging: None) -> None:
    original = ResponseLogger._log
    _configure(logging.INFO)
    speedups.skip_unseen_request_logs()
    assert ResponseLogger._log is original


def test_async_invoker_pool_is_widened(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from localstack.services.lambda_.invocation import event_manager

    from eda_sandbox import esm

    def stub_init(self: Any, *args: Any, **kwargs: Any) -> None:
        # What LocalStack's own __init__ leaves behind, without its AWS clients.
        self.invoker_pool = ThreadPoolExecutor(thread_name_prefix="lambda-invoker-fn:$LATEST")

    monkeypatch.setattr(event_manager.Poller, "__init__", stub_init)
    monkeypatch.setenv("EDA_SANDBOX_ASYNC_INVOKERS", "9")
    esm.widen_async_invoker_pool()
    poller = event_manager.Poller()  # type: ignore[call-arg]

    assert poller.invoker_pool._max_workers == 9
    assert poller.invoker_pool._thread_name_prefix == "lambda-invoker-fn:$LATEST"
    assert poller.invoker_pool.submit(lambda: 42).result(timeout=5) == 42
    poller.invoker_pool.shutdown()


class _RecordingSqs:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.meta = "meta"

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"Messages": []}


def test_mappings_without_a_batching_window_long_poll() -> None:
    from eda_sandbox import esm

    client = _RecordingSqs()
    polling = esm.LongPolling(client)
    polling.receive_message(QueueUrl="q", WaitTimeSeconds=0, sqs_override_wait_time_seconds=0)
    polling.receive_message(QueueUrl="q", WaitTimeSeconds=5, sqs_override_wait_time_seconds=5)
    polling.receive_message(QueueUrl="q", WaitTimeSeconds=20, sqs_override_wait_time_seconds=60)

    assert [c["WaitTimeSeconds"] for c in client.calls] == [esm.LONG_POLL_SECONDS, 5, 20]
    assert client.calls[0]["QueueUrl"] == "q"
    assert polling.meta == "meta"  # everything else is the client's own


class _Function:
    def __init__(self, reserved: int | None) -> None:
        self.reserved_concurrent_executions = reserved


class _Worker:
    def __init__(self, reserved: int | None = None, maximum: int | None = None) -> None:
        self.esm_config = {
            "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
            "ScalingConfig": {"MaximumConcurrency": maximum} if maximum else None,
        }
        self._state = type("Store", (), {"functions": {"fn": _Function(reserved)}})()


class _FifoPoller:
    """Calls handle_messages once per group, as LocalStack's SqsPoller.poll_events does."""

    def __init__(self, groups: int, fail: str | None = None) -> None:
        self.groups = groups
        self.fail = fail
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.handled: list[str] = []
        self.threads: set[str] = set()

    def poll_events(self) -> None:
        for g in range(self.groups):
            self.handle_messages([{"MessageId": f"g{g}"}])

    def handle_messages(self, messages: list[dict[str, Any]]) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.threads.add(threading.current_thread().name)
        try:
            time.sleep(0.05)  # a stand-in for the invocation, so overlaps show
            if messages[0]["MessageId"] == self.fail:
                raise RuntimeError("invoke failed")
            with self.lock:
                self.handled.append(messages[0]["MessageId"])
        finally:
            with self.lock:
                self.active -= 1


@pytest.mark.parametrize(
    ("worker", "peak"),
    [(_Worker(), 6), (_Worker(reserved=2), 2), (_Worker(reserved=5, maximum=3), 3)],
)
def test_fifo_groups_of_a_batch_run_side_by_side_within_the_limit(
    worker: _Worker, peak: int
) -> None:
    from eda_sandbox import esm

    poller = _FifoPoller(groups=6)
    esm._invoke_groups_concurrently(worker, poller)
    poller.poll_events()

    assert sorted(poller.handled) == [f"g{g}" for g in range(6)]
    assert poller.peak == peak


def test_a_failed_group_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from eda_sandbox import esm

    poller = _FifoPoller(groups=3, fail="g0")
    esm._invoke_groups_concurrently(_Worker(), poller)
    poller.poll_events()

    assert sorted(poller.handled) == ["g1", "g2"]
    assert "Polling or batch processing failed: invoke failed" in caplog.text


def test_a_single_batch_is_invoked_on_the_polling_thread() -> None:
    from eda_sandbox import esm

    poller = _FifoPoller(groups=1)
    esm._invoke_groups_concurrently(_Worker(), poller)
    poller.poll_events()
    assert poller.threads == {threading.current_thread().name}


_GC_SCRIPT = """
import gc, time, weakref
from eda_sandbox import speedups
from eda_sandbox.errors import WaitTimeoutError
from eda_sandbox.testing import wait_until
speedups._SWEEP_SECONDS = 1.0
speedups.keep_full_collections_short()

class Node:
    pass

def until(condition):
    try:
        return bool(wait_until(condition, timeout=10, interval=0.05))
    except WaitTimeoutError:
        return False

# Survivors of a full collection are frozen out of the next ones.
kept = [Node() for _ in range(1000)]
before = gc.get_freeze_count()
gc.collect()
print("frozen", until(lambda: gc.get_freeze_count() >= before + 1000))

# A cycle alive at that moment and dropped later is still collected by the sweep.
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
gc.collect()
until(lambda: gc.get_freeze_count() > 0)
del a, b
print("swept", until(lambda: gc.collect() is not None and gone() is None))

# The sweep's long pass waits while the process is busy.
sweeps = []
unfreeze = gc.unfreeze
gc.unfreeze = lambda: (sweeps.append(time.monotonic()), unfreeze())
busy_until = time.monotonic() + 2.5
while time.monotonic() < busy_until:
    sum(range(1000))
print("postponed", sweeps == [])
print("then swept", until(lambda: sweeps != []))
"""


def test_full_collections_freeze_survivors_and_a_sweep_frees_old_cycles() -> None:
    import subprocess
    import sys

    # A fresh interpreter: freezing changes the whole process's collector.
    out = subprocess.run(
        [sys.executable, "-c", _GC_SCRIPT], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\n")
    assert out[:4] == ["frozen True", "swept True", "postponed True", "then swept True"]
