"""An event source mapping's invocation carries its messages' trace header (applied
as Lambda loads, ``patches/loading.py``, always on).

Why: on AWS, a function invoked by an SQS event source mapping continues the trace of
the messages it got: the ``AWSTraceHeader`` system attribute SQS keeps with each message
(set from the producer's ``X-Amzn-Trace-Id``, or by SNS on delivery) becomes the
invocation's trace header, which the runtime sees as ``Lambda-Runtime-Trace-Id`` on
``/next`` and hands the function as ``_X_AMZN_TRACE_ID`` (X-Ray's "Amazon SQS and AWS
X-Ray": "If you use a Lambda downstream consumer, trace context propagation is
automatic"). LocalStack 2026.3.0's ``LambdaSender.send_events`` invokes with no trace
header, so every ESM invocation started a new, unrelated trace and a function could not
log the trace id of the event it handled.

What AWS does for a batch of several traces is to link the function's trace to each of
them (X-Ray "Tracing event-driven applications"); a process sees one trace id, so here
the invocation carries the header of the first message that has one. All of the batch's
messages are linked in the journey's OpenTelemetry spans (``journeys/otel.py``).

The rest of the path was already there: the internal ``Invoke`` reads the header as the
gateway does (``X-Amzn-Trace-Id``, also on our direct internal calls), LocalStack's
execution environment adds ``Parent``/``Sampled`` and passes it to the init as
``trace-id``, and the init answers ``/next`` with it (``executor/init_http.py``). A
direct ``Invoke`` with an ``X-Amzn-Trace-Id`` header takes the same path.
"""

from __future__ import annotations

import copy
from typing import Any

_applied: list[Any] = []


def batch_trace_header(events: object) -> str | None:
    """The ``AWSTraceHeader`` of the first SQS record in ``events`` that has one."""
    records = events.get("Records") if isinstance(events, dict) else events
    if not isinstance(records, list):
        return None
    for record in records:
        if isinstance(record, dict):
            attributes = record.get("attributes")
            if isinstance(attributes, dict) and (header := attributes.get("AWSTraceHeader")):
                return str(header)
    return None


def carry_trace_header_to_invocations(*_args: Any) -> None:
    from localstack.services.lambda_.event_source_mapping.senders.lambda_sender import (
        LambdaSender,
    )
    from localstack.utils.patch import Patch

    if _applied:
        return

    def send_events(fn: Any, self: Any, events: list[dict[str, Any]] | dict[str, Any]) -> Any:
        header = batch_trace_header(events)
        if header is None or not hasattr(self.target_client, "custom_headers"):
            return fn(self, events)
        # A copy: the pollers of one mapping share its sender, and so its client.
        sender = copy.copy(self)
        sender.target_client = self.target_client.custom_headers({"X-Amzn-Trace-Id": header})
        return fn(sender, events)

    patch = Patch.function(LambdaSender.send_events, send_events)
    patch.apply()
    _applied.append(patch)


def revert() -> None:
    """Put LocalStack's own ``send_events`` back (for tests)."""
    while _applied:
        _applied.pop().undo()
