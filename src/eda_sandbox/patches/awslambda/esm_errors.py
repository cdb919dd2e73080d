"""Say why an event source mapping's poll or batch failed (applied as Lambda loads,
``patches/loading.py``).

LocalStack's SQS poller logs ``Polling or batch processing failed: %s`` with the exception,
and our FIFO group invoker (``esm.py``) logs the same. When the function failed the
whole batch, that exception is LocalStack's ``BatchFailureError`` (or ``PartialBatchFailureError``),
which keeps the reason in its ``error`` record and has no message, so the line ended at the
colon. This gives both a message made from that record: the function, Lambda's
``FunctionError``, the HTTP status and the request id, which finds the invocation's own
log in CloudWatch Logs. A fix, not a speed-up: it stays on with ``EDA_SANDBOX_SPEEDUPS=0``.
"""

from __future__ import annotations

from typing import Any


def describe(error: BaseException) -> str:
    """A one-line reason for a failed batch, from the exception's ``error`` record."""
    record: Any = getattr(error, "error", None)
    name = type(error).__name__
    if not isinstance(record, dict) or not record:
        cause = error.__cause__
        return f"{name} ({type(cause).__name__}: {cause})" if cause else name
    arn = str(record.get("resourceArn") or "")
    function = arn.split(":")[6] if arn.count(":") >= 6 else arn or "the target"
    head = f"{name}: function {function}"
    if record.get("functionError"):
        head += f" returned FunctionError {record['functionError']}"
    elif record.get("message"):
        head += f": {record['message']}"
    parts = [head]
    if record.get("httpStatusCode"):
        parts.append(f"status {record['httpStatusCode']}")
    if record.get("requestId"):
        parts.append(f"request id {record['requestId']} (its log: /aws/lambda/{function})")
    return ", ".join(parts)


def explain_batch_failures(*_args: Any) -> None:
    from localstack.services.lambda_.event_source_mapping import event_processor

    for cls in (event_processor.BatchFailureError, event_processor.PartialBatchFailureError):
        cls.__str__ = describe  # type: ignore[method-assign]
