"""A function's dead-letter message as AWS sends it (applied as
Lambda loads, ``patches/loading.py``, always on).

Why: LocalStack 2026.3.0 gives the message it sends to an asynchronous invocation's
dead-letter queue or topic a fresh random ``RequestID`` attribute, so it cannot be matched
to the invocation that failed, and the whole error message as ``ErrorMessage``. AWS's
attributes (Lambda developer guide, "Dead-letter queues"): ``RequestID``, the failed
invocation's request id; ``ErrorCode``, the 3-digit HTTP status; ``ErrorMessage``, the
first 1 KB of the error message.

What changes: while the event manager sends a dead-letter message, the invocation's request
id is at hand (a context variable), and LocalStack's message builder uses it.
"""

from __future__ import annotations

import contextvars
from typing import Any

MAX_ERROR_MESSAGE_BYTES = 1024
_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "eda_dlq_request_id", default=None
)


def aws_attributes(attributes: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """``attributes`` of a Lambda dead-letter message with AWS's RequestID and ErrorMessage."""
    if request_id:
        attributes["RequestID"] = {"DataType": "String", "StringValue": request_id}
    error = attributes.get("ErrorMessage")
    if error and isinstance(error.get("StringValue"), str):
        data = error["StringValue"].encode()[:MAX_ERROR_MESSAGE_BYTES]
        error["StringValue"] = data.decode(errors="ignore")
    return attributes


def dead_letter_request_id(*_args: Any) -> None:
    from localstack.services.lambda_.invocation.event_manager import Poller
    from localstack.utils.aws import dead_letter_queue
    from localstack.utils.patch import patch

    @patch(Poller.process_dead_letter_queue)
    def process_dead_letter_queue(fn: Any, self: Any, sqs_invocation: Any, *args: Any) -> Any:
        token = _REQUEST_ID.set(sqs_invocation.invocation.request_id)
        try:
            return fn(self, sqs_invocation, *args)
        finally:
            _REQUEST_ID.reset(token)

    @patch(dead_letter_queue._prepare_messages_to_dlq)
    def prepare(fn: Any, source_arn: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = fn(source_arn, *args, **kwargs)
        if ":lambda:" in source_arn:
            for message in messages:
                aws_attributes(message.get("MessageAttributes") or {}, _REQUEST_ID.get())
        return messages
