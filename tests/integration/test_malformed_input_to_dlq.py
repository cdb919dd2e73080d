"""Malformed input on the SNS -> EventQueue -> order_consumer path.

Unparseable or incomplete bodies end in EventQueue-dlq after the retries, with the reason
in order_consumer's logs; oversized messages are refused before anything is queued, and
refusing one loses none of the messages sent around it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from eda_app import MessageTooLargeError, publish_event
from eda_sandbox.testing import AwsClients

KIB = 1024


def test_non_json_and_incomplete_bodies_reach_the_dlq_with_the_reason_logged(
    e2e: Any, correlation_id: str, receive_until: Any
) -> None:
    not_json = "order_placed: this is not JSON {"
    incomplete = e2e.order(correlation_id, 1)
    del incomplete["order_id"]
    # The correlation id travels as a message attribute too (raw delivery copies SNS
    # attributes), which is how the handler tags the log lines of an unparseable body.
    sent = {
        "not-json": (
            e2e.send_raw(
                "EventQueue",
                not_json,
                {
                    "event_type": "order_placed",
                    "correlation_id": correlation_id,
                    "event_id": f"{correlation_id}-evt-0",
                },
            ),
            not_json,
            ("body", "is not valid JSON"),
        ),
        "incomplete": (
            e2e.send_raw(
                "EventQueue",
                json.dumps(incomplete),
                {k: incomplete[k] for k in ("event_type", "event_id", "correlation_id")},
            ),
            json.dumps(incomplete),
            ("order_id", "order_id=<missing>: must be a non-empty string"),
        ),
    }

    # The reason is logged on the first delivery: no need to wait for the retries.
    for name, (message_id, _body, (field, reason)) in sent.items():
        record = e2e.wait_for_log_record(
            "order_consumer", "order rejected", lambda r, m=message_id: r.get("message_id") == m
        )
        assert record.get("field") == field and reason in record.get("reason", ""), (
            f"{name}: expected field {field!r} and reason containing {reason!r}, "
            f"order_consumer logged {record}"
        )
        assert record.get("correlation_id") == correlation_id, record

    dead = receive_until(
        e2e.queue_url("EventQueue-dlq"),
        count=2,
        match=correlation_id,  # body or message attribute
        timeout=e2e.dlq_timeout("EventQueue"),
    )
    bodies = sorted(m.body for m in dead)
    assert bodies == sorted(body for _id, body, _r in sent.values()), (
        f"EventQueue-dlq must hold both original bodies; it holds {bodies}"
    )
    assert all(m.message_attributes["correlation_id"] == correlation_id for m in dead), dead
    assert all(m.receive_count >= 3 for m in dead), [m.attributes for m in dead]


def test_oversized_event_is_refused_by_the_producer_and_neighbours_arrive(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    topic = e2e.topic_arn("EventTopic")
    before = e2e.order(correlation_id, 1)
    huge = e2e.order(correlation_id, 2, note="x" * (256 * KIB))
    after = e2e.order(correlation_id, 3)

    publish_event(before, topic_arn=topic, sns_client=aws.sns)
    with pytest.raises(MessageTooLargeError) as refused:
        publish_event(huge, topic_arn=topic, sns_client=aws.sns)
    publish_event(after, topic_arn=topic, sns_client=aws.sns)

    error = refused.value
    assert error.size > error.limit == 256 * KIB, f"size {error.size}, limit {error.limit}"
    assert huge["event_id"] in str(error) and "nothing was sent" in str(error), str(error)

    items = e2e.wait_for_items("Orders", "order_id", [before["order_id"], after["order_id"]])
    assert all(i["write_count"] == 1 for i in items.values()), items
    # The refused event was never sent: the later `after` order is stored, and it is not.
    assert e2e.get_item("Orders", {"order_id": huge["order_id"]}) is None


def test_oversized_raw_message_is_refused_by_sqs_and_neighbours_arrive(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    queue = e2e.queue_url("EventQueue")
    limit = int(
        aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["MaximumMessageSize"])[
            "Attributes"
        ]["MaximumMessageSize"]
    )
    # SQS enforces the queue's own limit (1 MiB unless the topology lowers it), which is
    # above the 256 KiB SNS and the producer allow.
    before = e2e.order(correlation_id, 1)
    huge = e2e.order(correlation_id, 2)
    huge["note"] = "x" * (limit + 1 - len(json.dumps(huge)) + len(', "note": ""'))
    after = e2e.order(correlation_id, 3)
    body = json.dumps(huge)
    assert len(body.encode()) > max(limit, 256 * KIB)

    attributes = {"event_type": "order_placed", "correlation_id": correlation_id}
    e2e.send_raw("EventQueue", json.dumps(before), attributes)
    with pytest.raises(ClientError) as refused:
        e2e.send_raw("EventQueue", body, attributes)
    e2e.send_raw("EventQueue", json.dumps(after), attributes)

    error = refused.value.response["Error"]
    assert error["Code"] in ("InvalidParameterValue", "MessageTooLong"), error
    assert str(limit) in error["Message"], f"the error should name the {limit}-byte limit: {error}"

    items = e2e.wait_for_items("Orders", "order_id", [before["order_id"], after["order_id"]])
    assert all(i["write_count"] == 1 for i in items.values()), items
    assert e2e.get_item("Orders", {"order_id": huge["order_id"]}) is None
