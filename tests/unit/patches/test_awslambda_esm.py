"""The event source mapping patch: each change takes effect and keeps behaviour where it
must (FIFO order and concurrency limits)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest


def test_async_invoker_pool_is_widened(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from localstack.services.lambda_.invocation import event_manager

    from eda_sandbox.patches.awslambda import esm

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
    from eda_sandbox.patches.awslambda import esm

    poller = _FifoPoller(groups=6)
    esm._invoke_groups_concurrently(worker, poller)
    poller.poll_events()

    assert sorted(poller.handled) == [f"g{g}" for g in range(6)]
    assert poller.peak == peak


def test_a_failed_group_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from eda_sandbox.patches.awslambda import esm

    poller = _FifoPoller(groups=3, fail="g0")
    esm._invoke_groups_concurrently(_Worker(), poller)
    poller.poll_events()

    assert sorted(poller.handled) == ["g1", "g2"]
    assert "Polling or batch processing failed: invoke failed" in caplog.text


def test_a_single_batch_is_invoked_on_the_polling_thread() -> None:
    from eda_sandbox.patches.awslambda import esm

    poller = _FifoPoller(groups=1)
    esm._invoke_groups_concurrently(_Worker(), poller)
    poller.poll_events()
    assert poller.threads == {threading.current_thread().name}


class _SlowPoller:
    """A standard queue's poller: one batch per poll, invoked for 0.1 s."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.polls: list[float] = []
        self.invoked: list[tuple[float, float]] = []

    def poll_events(self) -> None:
        with self.lock:
            self.polls.append(time.monotonic())
        self.handle_messages([{"MessageId": "m"}])

    def handle_messages(self, messages: list[dict[str, Any]]) -> None:
        started = time.monotonic()
        time.sleep(0.1)  # a stand-in for the invocation
        with self.lock:
            self.invoked.append((started, time.monotonic()))


def test_a_poller_receives_only_when_its_batch_may_run() -> None:
    """MaximumConcurrency 1: the second poller does not take a batch (keeping it
    invisible) while the first batch runs; it receives once the first is done."""
    from concurrent.futures import ThreadPoolExecutor

    from eda_sandbox.patches.awslambda import esm

    poller = _SlowPoller()
    esm._invoke_groups_concurrently(_Worker(maximum=1), poller)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _i: poller.poll_events(), range(2)))

    (first_start, first_end), _ = sorted(poller.invoked)
    assert sorted(poller.polls)[1] >= first_end, (poller.polls, poller.invoked)
