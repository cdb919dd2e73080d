"""The tracing patches: which key a filter or pattern failed on, what an invocation's event
says, and the SQS instrumentor on LocalStack's real SQS provider (in this process)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from eda_sandbox.journeys.model import HopKind
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.tracing.awslambda import event_records, invocation_outcome
from eda_sandbox.patches.tracing.base import trace_root
from eda_sandbox.patches.tracing.events import failed_pattern_key
from eda_sandbox.patches.tracing.sns import failed_filter_key
from eda_sandbox.patches.tracing.sqs import SqsInstrumentor


def _attr(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def test_the_failed_filter_key_and_value_are_named() -> None:
    policy = {"event_type": ["order_placed"], "region": ["eu"]}
    attributes = {"event_type": _attr("user_signup"), "region": _attr("eu")}
    assert failed_filter_key(policy, "MessageAttributes", attributes, None) == (
        "event_type",
        "user_signup",
    )
    assert failed_filter_key(
        policy, "MessageAttributes", {"event_type": _attr("order_placed")}, None
    ) == (
        "region",
        "<missing>",
    )
    body = json.dumps({"order": {"amount": -1, "sku": "A"}})
    body_policy = {"order": {"sku": ["A"], "amount": [{"numeric": [">=", 0]}]}}
    assert failed_filter_key(body_policy, "MessageBody", {}, body) == ("order.amount", "-1")


def test_the_failed_pattern_key_is_a_path_into_the_event() -> None:
    pattern = {
        "source": ["my.application"],
        "detail": {"event_type": ["order_placed"], "amount": [{"numeric": [">=", 0]}]},
    }
    event = {"source": "my.application", "detail": {"event_type": "order_placed", "amount": -1}}
    assert failed_pattern_key(pattern, event) == ("detail.amount", "-1")
    assert failed_pattern_key(pattern, {**event, "source": "other"}) == ("source", "other")


def test_event_records_read_sqs_sns_and_eventbridge_payloads() -> None:
    sqs = {
        "Records": [
            {
                "messageId": "m1",
                "body": json.dumps({"correlation_id": "from-body"}),
                "attributes": {"AWSTraceHeader": "Root=1-a-b;Sampled=1"},
                "messageAttributes": {},
            },
            {
                "messageId": "m2",
                "body": "not json",
                "attributes": {},
                "messageAttributes": {"correlation_id": {"stringValue": "attr"}},
            },
        ]
    }
    assert event_records(json.dumps(sqs)) == [
        ("m1", "from-body", "Root=1-a-b;Sampled=1"),
        ("m2", "attr", None),
    ]
    sns = {
        "Records": [
            {
                "Sns": {
                    "MessageId": "s1",
                    "MessageAttributes": {"correlation_id": {"Type": "String", "Value": "c"}},
                }
            }
        ]
    }
    assert event_records(json.dumps(sns).encode()) == [("s1", "c", None)]
    eventbridge = {"id": "e1", "detail": {"correlation_id": "c2"}}
    assert event_records(json.dumps(eventbridge)) == [("e1", "c2", None)]
    assert event_records(b"not json") == []


def test_invocation_outcome_reads_errors_and_batch_item_failures() -> None:
    class Result:
        def __init__(self, payload: object, is_error: bool = False) -> None:
            self.payload = json.dumps(payload).encode()
            self.is_error = is_error

    assert invocation_outcome(Result({"errorType": "KeyError"}, is_error=True)) == ("KeyError", [])
    failures = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert invocation_outcome(Result(failures)) == (None, ["m2"])
    assert invocation_outcome(Result({"ok": 1})) == (None, [])


def test_trace_root_reads_the_header() -> None:
    assert trace_root("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f;Sampled=1") == (
        "1-5759e988-bd862e3fe1be46a994272793"
    )
    assert trace_root("Root=1-5759e988-bd862e3fe1be46a994272793") == (
        "1-5759e988-bd862e3fe1be46a994272793"
    )
    assert trace_root("Parent=1;Root=1-a-b") == "1-a-b"
    assert trace_root("Root=;Parent=1") is None
    assert trace_root("Parent=1") is None and trace_root(None) is None


def test_a_message_past_max_receive_count_is_recorded_into_the_dlq(
    traced_sqs: tuple[Any, JourneyStore],
) -> None:
    client, store = traced_sqs
    suffix = uuid.uuid4().hex[:8]
    dlq = client.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = client.create_queue(
        QueueName=f"src-{suffix}",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
        },
    )["QueueUrl"]
    message_id = client.send_message(
        QueueUrl=source,
        MessageBody="x",
        MessageAttributes={"correlation_id": _attr("cid-1")},
    )["MessageId"]
    assert client.receive_message(QueueUrl=source, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in client.receive_message(QueueUrl=source)  # moved to the DLQ

    (journey,) = store.find("cid-1")
    kinds = [(h.kind, h.resource) for h in journey.ordered()]
    assert kinds == [
        (HopKind.ENQUEUED, f"src-{suffix}"),
        (HopKind.RECEIVED, f"src-{suffix}"),
        (HopKind.DEAD_LETTERED, f"dlq-{suffix}"),
    ]
    dead = journey.ordered()[-1]
    assert dead.failed and dead.reason == f"maxReceiveCount 1 exceeded on src-{suffix}"
    assert journey.settled and message_id in journey.keys


def test_uninstrument_puts_the_originals_back() -> None:
    from localstack.services.sqs.models import StandardQueue

    original = StandardQueue.receive
    instrumentor = SqsInstrumentor(JourneyStore(1))
    instrumentor.instrument()
    assert StandardQueue.receive is not original
    instrumentor.uninstrument()
    assert StandardQueue.receive is original
