"""Finding a function's log lines in CloudWatch Logs, with a bounded wait."""

from __future__ import annotations

import time
from typing import Any

from eda_sandbox.errors import WaitTimeoutError
from eda_sandbox.testing.waits import wait_until

# Lines a test waits for were written seconds ago. Reading only the last ten minutes,
# every page of them, keeps a long-lived sandbox (a benchmark writes tens of thousands
# of lines) from hiding them behind the first page of older lines.
WINDOW_SECONDS = 600


def log_events(logs: Any, group: str, pattern: str | None = None) -> list[dict[str, Any]]:
    """Events of ``group`` from the last ``WINDOW_SECONDS``, oldest first, all pages
    (``pattern``: a CloudWatch Logs filter pattern). A missing group has none."""
    request: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int((time.time() - WINDOW_SECONDS) * 1000),
    }
    if pattern:
        request["filterPattern"] = pattern
    events: list[dict[str, Any]] = []
    try:
        while True:
            page = logs.filter_log_events(**request)
            events.extend(page.get("events", []))
            token = page.get("nextToken")
            if not token or token == request.get("nextToken"):
                return events
            request["nextToken"] = token
    except logs.exceptions.ResourceNotFoundException:
        return []


def recent_lines(logs: Any, group: str, limit: int = 40) -> list[str]:
    return [e["message"].rstrip() for e in log_events(logs, group)[-limit:]]


def wait_for_log(logs: Any, function_name: str, text: str, timeout: float = 15.0) -> list[str]:
    """Log lines of ``/aws/lambda/<function_name>`` containing ``text``.

    The failure message shows the function's most recent lines, so a missing log line
    says what the function did log instead.
    """
    group = f"/aws/lambda/{function_name}"

    def matching() -> list[str]:
        events = log_events(logs, group, f'"{text}"')
        return [e["message"].rstrip() for e in events if text in e["message"]]

    try:
        return wait_until(matching, timeout=timeout, description=f"{text!r} in {group}")
    except AssertionError as e:
        lines = "\n  ".join(recent_lines(logs, group))
        raise WaitTimeoutError(f"{e}\nmost recent lines of {group}:\n  {lines}") from e
