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


class _RecordingSqs:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.meta = "meta"

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"Messages": []}


def test_mappings_without_a_batching_window_long_poll() -> None:
    from eda_sandbox.patches.awslambda import esm

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
