"""The gateway patch: request-log records are built only when a handler would print them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
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


_TWISTED_IMPORTED = """
import sys
from eda_sandbox.patches import gateway
gateway.bind_gateway_to_its_host()
gateway.patch_twisted_content_type()
print("twisted" in sys.modules)
"""


@pytest.mark.parametrize(("server", "imported"), [("eda", "False"), ("twisted", "True")])
def test_twisted_is_patched_only_when_it_serves(server: str, imported: str) -> None:
    # A fresh interpreter: this one may have imported twisted for another test already.
    env = {**os.environ, "GATEWAY_SERVER": server}
    done = subprocess.run(
        [sys.executable, "-c", _TWISTED_IMPORTED], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == imported
