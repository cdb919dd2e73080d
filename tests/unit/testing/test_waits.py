from __future__ import annotations

import itertools

import pytest

from eda_sandbox.errors import WaitTimeoutError
from eda_sandbox.testing import wait_until


def test_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "done", timeout=5, interval=0.001) == "done"


def test_timeout_reports_the_last_value_seen() -> None:
    values = iter(range(1000))
    with pytest.raises(WaitTimeoutError) as info:
        wait_until(
            lambda: [next(values)] if False else [],
            timeout=0.05,
            interval=0.01,
            description="messages in EventQueue-dlq",
        )
    assert "waiting for messages in EventQueue-dlq" in str(info.value)
    assert "last value seen: []" in str(info.value)
    assert info.value.last_value == []


def test_timeout_reports_the_last_error() -> None:
    def probe() -> int:
        raise KeyError("order-42")

    with pytest.raises(WaitTimeoutError, match=r"last error: KeyError: 'order-42'"):
        wait_until(probe, timeout=0.05, interval=0.01)


def test_it_is_an_assertion_so_pytest_reports_a_failure() -> None:
    with pytest.raises(AssertionError):
        wait_until(lambda: None, timeout=0.01)


class _PagedLogs:
    """filter_log_events in pages of two, as CloudWatch Logs pages long results."""

    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self.requests: list[dict[str, object]] = []

    def filter_log_events(self, **request: object) -> dict[str, object]:
        self.requests.append(request)
        start = int(str(request.get("nextToken") or 0))
        page = [{"message": m} for m in self.messages[start : start + 2]]
        more = start + 2 < len(self.messages)
        return {"events": page, **({"nextToken": str(start + 2)} if more else {})}


def test_log_lines_past_the_first_page_are_found() -> None:
    import time

    from eda_sandbox.testing.logs import WINDOW_SECONDS, wait_for_log

    logs = _PagedLogs(["old a", "old b", "old c", "new order stored"])
    assert wait_for_log(logs, "fn", "order stored", timeout=1) == ["new order stored"]
    first = logs.requests[0]
    assert first["logGroupName"] == "/aws/lambda/fn"
    assert int(str(first["startTime"])) >= (time.time() - WINDOW_SECONDS - 5) * 1000
    assert [r.get("nextToken") for r in logs.requests] == [None, "2"]
