"""The gateway patch: request-log records are built only when a handler would print them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from localstack.aws.handlers.logging import ResponseLogger

from eda_sandbox.patches import gateway


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
    gateway.skip_unseen_request_logs()
    assert ResponseLogger._log is not original


def test_kept_when_an_info_handler_would_print_them(restore_logging: None) -> None:
    original = ResponseLogger._log
    _configure(logging.INFO)
    gateway.skip_unseen_request_logs()
    assert ResponseLogger._log is original
