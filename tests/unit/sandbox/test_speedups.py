"""The request-log speed-up must only drop records that no handler would print."""

from __future__ import annotations

import logging
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
