"""Journeys as OTLP: the JSON an OTLP receiver accepts, trace ids from the X-Ray root,
span links from a batch invocation to each message's span."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from eda_sandbox.journeys.model import Hop, HopKind, Journey
from eda_sandbox.journeys.otel import write_otlp_json

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def _journeys() -> list[Journey]:
    def enqueue(message_id: str, at: float) -> Hop:
        return Hop(HopKind.ENQUEUED, at, "EventQueue", detail={"message_id": message_id})

    batch = {"request_id": "r1", "init": True, "duration_ms": 12.5, "batch": ["m1", "m2"]}
    first = Journey(
        id=ROOT,
        trace_id=ROOT,
        hops=[
            Hop(HopKind.PUBLISHED, 1.0, "EventTopic", detail={"message_id": "s1"}),
            enqueue("m1", 1.1),
            Hop(
                HopKind.INVOKED,
                1.2,
                "order_consumer",
                failed=True,
                reason="reported in batchItemFailures",
                detail={**batch, "message_id": "m1"},
            ),
        ],
    )
    second = Journey(id="j-2", hops=[enqueue("m2", 1.15)])
    return [first, second]


def _as_protobuf_json(data: dict[str, object]) -> dict[str, object]:
    """OTLP JSON has hex ids; protobuf's JSON mapping wants base64 (a receiver converts)."""
    text = json.dumps(data)
    loaded = json.loads(text)
    for rs in loaded["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for item in [span, *span.get("links", [])]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if item.get(key):
                            item[key] = base64.b64encode(bytes.fromhex(item[key])).decode()
    return loaded  # type: ignore[no-any-return]


def test_the_otlp_json_is_accepted_as_an_export_request(tmp_path: Path) -> None:
    path = write_otlp_json(_journeys(), tmp_path / "t.json")
    request = ParseDict(
        _as_protobuf_json(json.loads(path.read_text())), ExportTraceServiceRequest()
    )
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 4
    # The X-Ray root's random part is the W3C trace id of the whole journey.
    data = json.loads(path.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    first_trace = [s for s in data if s["traceId"] == "5759e988bd862e3fe1be46a994272793"]
    assert len(first_trace) == 3
    invoke = next(s for s in data if s["name"] == "lambda.invoke order_consumer")
    attributes = {a["key"]: a["value"] for a in invoke["attributes"]}
    assert attributes["faas.invoked_name"] == {"stringValue": "order_consumer"}
    assert attributes["faas.coldstart"] == {"boolValue": True}
    assert invoke["status"]["code"] == "STATUS_CODE_ERROR"
    # The batch links to both messages' enqueue spans, one in the other journey's trace.
    linked = {link["traceId"] for link in invoke["links"]}
    assert len(invoke["links"]) == 2 and len(linked) == 2, invoke["links"]
    assert invoke["parentSpanId"] == first_trace[0]["spanId"] or any(
        s["spanId"] == invoke["parentSpanId"] for s in first_trace
    )
