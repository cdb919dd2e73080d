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
