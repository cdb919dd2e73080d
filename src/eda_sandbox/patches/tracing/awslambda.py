"""Journey hops of Lambda: every invocation, asynchronous retries and on-failure results.

Wraps (LocalStack 2026.3.0):

- ``ExecutionEnvironment.invoke``: one invocation in one environment, whatever invoked
  it (an event source mapping, the async event manager, a client): function, request
  id, init (the environment's first) or warm, duration, the error type, and the batch
  item failures the function reported. The event says which journeys it belongs to: an
  SQS record's ``messageId`` and ``AWSTraceHeader``, an SNS record's ``MessageId``, an
  EventBridge event's ``id``;
- ``LambdaEventManager.enqueue_event``: an asynchronous invocation accepted (EventBridge
  and SNS targets, ``InvocationType=Event``);
- the async event manager's ``Poller``: ``_handle_function_error`` (a retry scheduled,
  with its attempt and delay), ``process_throttles_and_system_errors`` (the same for a
  throttle), ``process_success_destination`` (the end: a hop only when an on-success
  destination is configured) and ``process_failure_destination`` (the end, with the
  cause: ``RetriesExhausted``, ``EventAgeExceeded``, ...).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from eda_sandbox.journeys.model import HopKind
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.tracing.base import (
    Instrumentor,
    arg,
    attribute_value,
    body_correlation_id,
    enabled,
    linked,
    short_name,
    thread_set,
)

_ENVIRONMENT = "localstack.services.lambda_.invocation.execution_environment"
_EVENTS = "localstack.services.lambda_.invocation.event_manager"
# A result is parsed for its error type and batch item failures only when this small.
_MAX_RESULT_SCAN = 64 * 1024
# (id, correlation id, trace header) of one event in a Lambda payload.
EventRecord = tuple[str | None, str | None, str | None]


def event_records(payload: object) -> list[EventRecord]:
    """``(id, correlation id, trace header)`` of each event in a Lambda payload: SQS and
    SNS records, or one EventBridge (or other) event."""
    try:
        event = json.loads(payload) if isinstance(payload, str | bytes | bytearray) else payload
    except ValueError:
        return []
    if not isinstance(event, dict):
        return []
    records = event.get("Records")
    if isinstance(records, list):
        found: list[EventRecord] = []
        for record in records:
            if not isinstance(record, dict):
                continue
            if "Sns" in record:
                sns = record["Sns"] or {}
                cid = attribute_value(sns.get("MessageAttributes"), "correlation_id")
                found.append((sns.get("MessageId"), cid, None))
            else:
                cid = attribute_value(
                    record.get("messageAttributes"), "correlation_id"
                ) or body_correlation_id(record.get("body"))
                trace = (record.get("attributes") or {}).get("AWSTraceHeader")
                found.append((record.get("messageId"), cid, trace))
        return found
    detail = event.get("detail")
    cid = detail.get("correlation_id") if isinstance(detail, dict) else event.get("correlation_id")
    return [(event.get("id"), str(cid) if cid is not None else None, None)]


def invocation_outcome(result: Any) -> tuple[str | None, list[str]]:
    """The error type (None: success) and the batch item failures of a result."""
    payload = getattr(result, "payload", None)
    is_error = getattr(result, "is_error", False)
    if not is_error and not _names_failures(payload):
        return None, []  # most results: no parse (it was a tenth of tracing's cost)
    parsed: Any = None
    if payload and len(payload) <= _MAX_RESULT_SCAN:
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = None
    if is_error:
        kind = parsed.get("errorType") if isinstance(parsed, dict) else None
        return str(kind or "Unhandled"), []
    failures: list[str] = []
    if isinstance(parsed, dict) and isinstance(parsed.get("batchItemFailures"), list):
        failures = [
            str(item.get("itemIdentifier"))
            for item in parsed["batchItemFailures"]
            if isinstance(item, dict)
        ]
    return None, failures


def _names_failures(payload: object) -> bool:
    if isinstance(payload, bytes | bytearray):
        return b"batchItemFailures" in payload
    return isinstance(payload, str) and "batchItemFailures" in payload


class _RecentRecords:
    """The records of the last asynchronous invocations, by request id.

    An asynchronous invocation's payload is read when it is queued and again at each
    attempt; parsing it once saves a JSON parse per attempt (measured: 34 us each in
    LocalStack's process, for an EventBridge event).
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._records: dict[str, list[EventRecord]] = {}
        self._lock = threading.Lock()

    def put(self, request_id: str, records: list[EventRecord]) -> None:
        with self._lock:
            self._records[request_id] = records
            if len(self._records) > self._size:
                del self._records[next(iter(self._records))]

    def get(self, request_id: str) -> list[EventRecord] | None:
        return self._records.get(request_id)


class LambdaInstrumentor(Instrumentor):
    def __init__(self, store: JourneyStore | None = None) -> None:
        super().__init__(store)
        self._queued = _RecentRecords()

    TARGETS = (
        (_ENVIRONMENT, "ExecutionEnvironment.invoke", "_patched_invoke"),
        (_EVENTS, "LambdaEventManager.enqueue_event", "_patched_enqueue_event"),
        (_EVENTS, "Poller._handle_function_error", "_patched_handle_function_error"),
        (
            _EVENTS,
            "Poller.process_throttles_and_system_errors",
            "_patched_process_throttles_and_system_errors",
        ),
        (_EVENTS, "Poller.process_success_destination", "_patched_process_success_destination"),
        (_EVENTS, "Poller.process_failure_destination", "_patched_process_failure_destination"),
    )

    def _patched_invoke(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        invocation = arg(args, kwargs, 0, "invocation")
        init = not instance.__dict__.get("_eda_journey_invoked", False)
        instance.__dict__["_eda_journey_invoked"] = True
        started = time.time()
        try:
            result = wrapped(*args, **kwargs)
        except Exception as e:
            self._invoked(instance, invocation, started, init, type(e).__name__, [])
            raise
        error, failures = invocation_outcome(result)
        self._invoked(instance, invocation, started, init, error, failures)
        return result

    def _invoked(
        self,
        environment: Any,
        invocation: Any,
        started: float,
        init: bool,
        error: str | None,
        failures: list[str],
    ) -> None:
        function = environment.function_version.id.function_name
        request_id = invocation.request_id
        records = self._queued.get(request_id)
        if records is None:
            records = event_records(invocation.payload)
        batch = [r[0] for r in records if r[0]]
        common = {
            "request_id": request_id,
            "init": init,
            "duration_ms": round((time.time() - started) * 1000, 1),
            "error_type": error,
            "batch_size": len(records),
            "batch_item_failures": failures or None,
            "batch": batch if len(batch) > 1 else None,
        }
        done: set[str | None] = set()
        for event_id, correlation_id, trace in records or [(None, None, None)]:
            journey = self.store.journey_of(event_id) if event_id else None
            journey = journey or self.store.journey_of(request_id)
            if journey in done:
                continue  # two records of one journey in one batch: one hop
            done.add(journey)
            item_failed = event_id in failures
            reason = error or ("reported in batchItemFailures" if item_failed else None)
            self.record(
                HopKind.INVOKED,
                function,
                keys=(event_id, request_id),
                correlation_ids=(correlation_id,),
                trace_header=trace,
                failed=reason is not None,
                reason=reason,
                at=started,
                message_id=event_id,
                **common,
            )

    def _patched_enqueue_event(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        invocation = arg(args, kwargs, 0, "invocation")
        records = event_records(invocation.payload)
        self._queued.put(invocation.request_id, records)
        event_id, correlation_id, _ = records[0] if records else (None, None, None)
        header = invocation.trace_context.get("aws_trace_header")
        self.record(
            HopKind.INVOKE_QUEUED,
            instance.version_manager.function_version.id.function_name,
            keys=(event_id, invocation.request_id),
            correlation_ids=(correlation_id,),
            trace_header=header.to_header_str() if hasattr(header, "to_header_str") else header,
            new=True,
            opens=(f"async:{invocation.request_id}",),
            request_id=invocation.request_id,
            event_id=event_id,
        )
        with linked(invocation.request_id):
            return wrapped(*args, **kwargs)

    def _patched_handle_function_error(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        sqs_invocation = arg(args, kwargs, 0, "sqs_invocation")
        payload = arg(args, kwargs, 1, "response_payload")
        before = sqs_invocation.retries
        result = wrapped(*args, **kwargs)
        if sqs_invocation.retries > before:
            self._retry(instance, sqs_invocation, payload, "function error")
        return result

    def _patched_process_throttles_and_system_errors(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        if enabled():
            sqs_invocation = arg(args, kwargs, 0, "sqs_invocation")
            error = arg(args, kwargs, 1, "error")
            self._retry(instance, sqs_invocation, None, f"{type(error).__name__}: {error}")
        return result

    def _retry(self, poller: Any, sqs_invocation: Any, payload: Any, why: str) -> None:
        from localstack import config

        retries = sqs_invocation.retries
        error = payload.get("errorType") if isinstance(payload, dict) else None
        self.record(
            HopKind.RETRY_SCHEDULED,
            poller.version_manager.function_version.id.function_name,
            keys=(sqs_invocation.invocation.request_id,),
            reason=error or why,
            request_id=sqs_invocation.invocation.request_id,
            attempt=retries + 1,
            delay_seconds=retries * config.LAMBDA_RETRY_BASE_DELAY_SECONDS,
        )

    def _patched_process_success_destination(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        if enabled():
            sqs_invocation = arg(args, kwargs, 0, "sqs_invocation")
            config = arg(args, kwargs, 2, "event_invoke_config")
            request_id = sqs_invocation.invocation.request_id
            destination = None
            if config is not None:
                destination = config.destination_config.get("OnSuccess", {}).get("Destination")
            if destination is None:
                # The successful invocation's own hop says it all; a hop here would only
                # repeat it (and every asynchronous event pays for each hop).
                self.store.close(request_id, (f"async:{request_id}",))
                return result
            self.record(
                HopKind.ASYNC_SUCCEEDED,
                instance.version_manager.function_version.id.function_name,
                keys=(request_id,),
                closes=(f"async:{request_id}",),
                request_id=request_id,
                attempts=sqs_invocation.retries + 1,
                destination_arn=destination,
            )
        return result

    def _patched_process_failure_destination(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # The destination's SendMessage is this hop, not the start of another journey.
        with thread_set("dead_letter_send", True):
            result = wrapped(*args, **kwargs)
        if enabled():
            sqs_invocation = arg(args, kwargs, 0, "sqs_invocation")
            config = arg(args, kwargs, 2, "event_invoke_config")
            cause = arg(args, kwargs, 3, "failure_cause")
            destination = None
            if config is not None:
                on_failure = config.destination_config.get("OnFailure", {})
                destination = on_failure.get("Destination")
            request_id = sqs_invocation.invocation.request_id
            self.record(
                HopKind.ON_FAILURE,
                short_name(destination) if destination else "(no destination)",
                keys=(request_id,),
                failed=True,
                reason=str(cause),
                closes=(f"async:{request_id}",),
                request_id=request_id,
                function=instance.version_manager.function_version.id.function_name,
                destination_arn=destination,
                attempts=sqs_invocation.retries + 1,
            )
        return result
