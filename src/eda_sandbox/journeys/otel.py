"""Journeys as OpenTelemetry traces: one trace per journey, one span per hop.

The spans are the SDK's own ``ReadableSpan`` objects, encoded by the OTLP exporter's
encoder (``encode_spans``) and sent by its HTTP exporter when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set, so Jaeger, otel-tui or any OTLP viewer shows them. They are also written as OTLP
JSON files (the spec's JSON form: hex ids, which protobuf's ``json_format`` writes as
base64, so the ids are turned into hex afterwards).

- The trace id is the X-Ray root's 96 random bits behind its 32-bit time
  (``Root=1-5759e988-bd862e3fe1be46a994272793`` -> ``5759e988bd862e3fe1be46a994272793``),
  as AWS's own X-Ray-to-W3C mapping does; a journey without a trace header gets one from
  its id.
- Attributes follow the messaging (``messaging.system``, ``messaging.destination.name``,
  ``messaging.message.id``, ``messaging.operation.type``) and FaaS (``faas.invoked_name``,
  ``faas.invocation_id``, ``faas.coldstart``) semantic conventions.
- A batch invocation links to the span of every message in its batch (span links), as
  the conventions prescribe for SQS -> Lambda.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from eda_sandbox.journeys.model import Hop, HopKind, Journey

_SYSTEMS = {"sns": "aws_sns", "sqs": "aws_sqs", "events": "aws_eventbridge", "lambda": None}
_OPERATIONS = {
    HopKind.PUBLISHED: "send",
    HopKind.ENQUEUED: "send",
    HopKind.RECEIVED: "receive",
    HopKind.DELETED: "settle",
    HopKind.DEAD_LETTERED: "send",
    HopKind.PUT_EVENTS: "send",
    HopKind.INVOKED: "process",
}


def trace_id_of(journey: Journey) -> int:
    root = journey.trace_id or ""
    parts = root.split("-")
    if len(parts) == 3 and len(parts[1]) == 8 and len(parts[2]) == 24:
        return int(parts[1] + parts[2], 16)
    return int(hashlib.sha256(journey.id.encode()).hexdigest()[:32], 16)


def _span_id(journey: Journey, index: int) -> int:
    digest = hashlib.sha256(f"{journey.id}/{index}".encode()).hexdigest()
    return int(digest[:16], 16) or 1


def _attributes(hop: Hop) -> dict[str, Any]:
    service = str(hop.kind).split(".", 1)[0]
    d = hop.detail
    attributes: dict[str, Any] = {"cloud.provider": "aws", "eda.hop": str(hop.kind)}
    if system := _SYSTEMS.get(service):
        attributes["messaging.system"] = system
        attributes["messaging.destination.name"] = hop.resource
    if op := _OPERATIONS.get(hop.kind):
        attributes["messaging.operation.type"] = op
    if d.get("message_id"):
        attributes["messaging.message.id"] = str(d["message_id"])
    if hop.kind == HopKind.INVOKED:
        attributes.update(
            {
                "faas.invoked_name": hop.resource,
                "faas.invoked_provider": "aws",
                "faas.invocation_id": str(d.get("request_id")),
                "faas.coldstart": bool(d.get("init")),
                "faas.trigger": "pubsub",
            }
        )
        if d.get("batch_size"):
            attributes["messaging.batch.message_count"] = int(d["batch_size"])
    if hop.reason:
        attributes["eda.reason"] = hop.reason
    for key in ("receive_count", "attempt", "failed_key", "error_type", "error_code"):
        if d.get(key) is not None:
            attributes[f"eda.{key}"] = d[key] if isinstance(d[key], int | str) else str(d[key])
    return attributes


def to_spans(journeys: list[Journey]) -> list[Any]:
    """The journeys as SDK spans; hops of one journey are children of its first hop."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
    from opentelemetry.trace.status import Status, StatusCode

    resource = Resource.create({"service.name": "eda-sandbox"})
    scope = InstrumentationScope("eda_sandbox.journeys")
    contexts: dict[str, Any] = {}  # message id -> the span context of its enqueue
    planned: list[tuple[Journey, int, Hop, Any]] = []
    for journey in journeys:
        trace_id = trace_id_of(journey)
        for index, hop in enumerate(journey.ordered()):
            ctx = SpanContext(
                trace_id, _span_id(journey, index), is_remote=False, trace_flags=TraceFlags(1)
            )
            planned.append((journey, index, hop, ctx))
            if hop.kind == HopKind.ENQUEUED and hop.detail.get("message_id"):
                contexts[str(hop.detail["message_id"])] = ctx
    spans = []
    roots: dict[str, Any] = {}
    for journey, index, hop, ctx in planned:
        parent = roots.setdefault(journey.id, ctx) if index else None
        if index == 0:
            roots[journey.id] = ctx
        batch = hop.detail.get("batch") or (
            [hop.detail["message_id"]] if hop.detail.get("message_id") else []
        )
        links = (
            [Link(contexts[m]) for m in batch if m in contexts]
            if hop.kind == HopKind.INVOKED
            else []
        )
        start = int(hop.at * 1e9)
        duration = float(hop.detail.get("duration_ms") or 0) * 1e6
        kind = SpanKind.PRODUCER if _OPERATIONS.get(hop.kind) == "send" else SpanKind.CONSUMER
        if hop.kind == HopKind.INVOKED:
            kind = SpanKind.SERVER
        spans.append(
            ReadableSpan(
                name=f"{hop.kind} {hop.resource}",
                context=ctx,
                parent=parent if index else None,
                resource=resource,
                attributes=_attributes(hop),
                links=links,
                kind=kind,
                status=Status(StatusCode.ERROR, hop.reason) if hop.failed else Status(),
                start_time=start,
                end_time=start + int(duration),
                instrumentation_scope=scope,
            )
        )
    return spans


def to_otlp_json(journeys: list[Journey]) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` in OTLP's JSON form (hex trace and span ids)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    data: dict[str, Any] = MessageToDict(encode_spans(to_spans(journeys)))
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
    return data


def _hex_ids(item: dict[str, Any]) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if item.get(key):
            item[key] = base64.b64decode(item[key]).hex()


def write_otlp_json(journeys: list[Journey], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_otlp_json(journeys), indent=1))
    return path


def export(journeys: list[Journey]) -> bool:
    """Send the journeys to the OTLP/HTTP collector at ``OTEL_EXPORTER_OTLP_ENDPOINT``
    (the exporter reads the variable itself); False when none is configured."""
    if not journeys or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = OTLPSpanExporter()
    try:
        return exporter.export(to_spans(journeys)) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
