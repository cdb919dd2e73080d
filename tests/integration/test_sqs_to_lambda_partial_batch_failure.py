"""EventQueue -> order_consumer with ReportBatchItemFailures: one batch, good and bad records.

Good records are stored once and never redelivered; only the bad ones return to the
queue, are retried, and after maxReceiveCount (3) land in EventQueue-dlq unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from eda_sandbox.testing import AwsClients


def test_bad_records_retry_into_the_dlq_while_good_ones_are_stored_once(
    e2e: Any, aws: AwsClients, correlation_id: str, receive_until: Any
) -> None:
    good = [e2e.order(correlation_id, n) for n in range(6)]
    bad = [
        e2e.order(correlation_id, 100, sku="POISON"),
        e2e.order(correlation_id, 101, amount=-1),
    ]
    # Bad records in the middle: one SendMessageBatch call, so the mapping's 10-record
    # receive takes them together (raw-delivery attributes, as the SNS subscription adds).
    batch = [*good[:3], *bad, *good[3:]]
    sent = aws.sqs.send_message_batch(
        QueueUrl=e2e.queue_url("EventQueue"),
        Entries=[
            {
                "Id": str(i),
                "MessageBody": json.dumps(event),
                "MessageAttributes": {
                    k: {"DataType": "String", "StringValue": event[k]}
                    for k in ("event_type", "event_id", "correlation_id")
                },
            }
            for i, event in enumerate(batch)
        ],
    )
    assert not sent.get("Failed"), f"SQS refused part of the batch: {sent['Failed']}"
    message_ids = {batch[int(s["Id"])]["event_id"]: s["MessageId"] for s in sent["Successful"]}

    items = e2e.wait_for_items("Orders", "order_id", [e["order_id"] for e in good])
    not_once = {k: v for k, v in items.items() if v["write_count"] != 1}
    assert not not_once, f"good records must be written exactly once: {not_once}"

    dlq = e2e.queue_url("EventQueue-dlq")
    bad_ids = {e["event_id"] for e in bad}
    dead = receive_until(
        dlq,
        count=len(bad),
        match=lambda m: m.message_attributes.get("event_id") in bad_ids,
        timeout=e2e.dlq_timeout("EventQueue"),
    )
    by_event = {m.message_attributes["event_id"]: m for m in dead}
    for event in bad:
        message = by_event[event["event_id"]]
        assert message.body == json.dumps(event), (
            f"DLQ body must be the original; sent {json.dumps(event)}, DLQ has {message.body}"
        )
        assert message.message_attributes == {
            "event_type": "order_placed",
            "event_id": event["event_id"],
            "correlation_id": correlation_id,
        }, f"DLQ message attributes lost or changed: {message.message_attributes}"
        assert message.receive_count >= 3, (
            f"dead-lettered only after maxReceiveCount (3) receives; {message.attributes}"
        )
        rejections = [
            r
            for r in e2e.log_records("order_consumer", "order rejected")
            if r.get("message_id") == message_ids[event["event_id"]]
        ]
        assert len(rejections) == 3, (
            f"{event['event_id']}: expected 3 rejected deliveries, order_consumer logged "
            f"{[(r.get('timestamp'), r.get('reason')) for r in rejections]}"
        )

    # By now every redelivery has happened; none of it touched the good records.
    again = [
        r
        for r in e2e.log_records("order_consumer", "duplicate order skipped")
        if r.get("correlation_id") == correlation_id
    ]
    assert not again, f"good records were redelivered although they succeeded: {again}"
    items = e2e.wait_for_items("Orders", "order_id", [e["order_id"] for e in good])
    assert all(v["write_count"] == 1 for v in items.values()), items
    assert all(e2e.get_item("Orders", {"order_id": e["order_id"]}) is None for e in bad)
