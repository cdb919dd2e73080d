"""Finding a function's log lines in CloudWatch Logs, with a bounded wait."""

from __future__ import annotations

from typing import Any

from eda_sandbox.errors import WaitTimeoutError
from eda_sandbox.testing.waits import wait_until


def recent_lines(logs: Any, group: str, limit: int = 40) -> list[str]:
    try:
        events = logs.filter_log_events(logGroupName=group, limit=10_000).get("events", [])
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"].rstrip() for e in events[-limit:]]


def wait_for_log(logs: Any, function_name: str, text: str, timeout: float = 15.0) -> list[str]:
    """Log lines of ``/aws/lambda/<function_name>`` containing ``text``.

    The failure message shows the function's most recent lines, so a missing log line
    says what the function did log instead.
    """
    group = f"/aws/lambda/{function_name}"

    def matching() -> list[str]:
        try:
            events = logs.filter_log_events(
                logGroupName=group, filterPattern=f'"{text}"', limit=10_000
            ).get("events", [])
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [e["message"].rstrip() for e in events if text in e["message"]]

    try:
        return wait_until(matching, timeout=timeout, description=f"{text!r} in {group}")
    except AssertionError as e:
        lines = "\n  ".join(recent_lines(logs, group))
        raise WaitTimeoutError(f"{e}\nmost recent lines of {group}:\n  {lines}") from e
