"""Bounded, explicit waits: the only way tests wait for an asynchronous system."""

from __future__ import annotations

import time
from collections.abc import Callable

from eda_sandbox.errors import WaitTimeoutError


def _short(value: object, limit: int = 2000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def wait_until[T](
    condition: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.1,
    *,
    description: str = "",
    describe_last: Callable[[T | None], str] | None = None,
) -> T:
    """Call ``condition`` until it returns something truthy, and return that.

    On timeout raise :class:`WaitTimeoutError` that says what was awaited and shows the
    last value seen (or the last exception ``condition`` raised), so a failure explains
    itself without a re-run. ``interval`` grows gently up to 0.5 s to spare the endpoint.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    last_error: BaseException | None = None
    attempts = 0
    while True:
        attempts += 1
        try:
            last = condition()
            last_error = None
            if last:
                return last
        except WaitTimeoutError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of the probe is "not yet"
            last_error = e
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))  # the bounded poll interval of this wait
        interval = min(interval * 1.2, 0.5)
    what = description or getattr(condition, "__name__", "condition")
    seen = describe_last(last) if describe_last else _short(last)
    message = f"timed out after {timeout:.1f}s ({attempts} attempts) waiting for {what}; "
    message += f"last value seen: {seen}"
    if last_error is not None:
        message += f"; last error: {type(last_error).__name__}: {last_error}"
    raise WaitTimeoutError(message, last_value=last)
