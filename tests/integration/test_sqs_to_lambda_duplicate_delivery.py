"""The same order delivered twice to order_consumer yields one Orders write.

Idempotency is keyed on the event id, so the Orders item's write_count (ADD 1 on every
write) stays 1; the handler's "duplicate order skipped" log line proves the second
delivery was really handled and not merely still on its way.
"""

from __future__ import annotations

import json
import time
from typing import Any

from eda_app import publish_event
from eda_sandbox.testing import AwsClients, ReceivedMessage, wait_until


def _duplicate_skipped(e2e: Any, correlation_id: str, message_id: str | None = None) -> dict:
    return e2e.wait_for_log_record(
        "order_consumer",
        "duplicate order skipped",
        lambda r: (
            r.get("correlation_id") == correlation_id
            and (message_id is None or r.get("message_id") == message_id)
        ),
    )


def test_same_event_published_twice_is_written_once(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    event = e2e.order(correlation_id)
    topic = e2e.topic_arn("EventTopic")
    publish_event(event, topic_arn=topic, sns_client=aws.sns)
    e2e.wait_for_item("Orders", {"order_id": event["order_id"]})

    # A second SNS publish of the same event: a new SQS message, same event_id.
    publish_event(event, topic_arn=topic, sns_client=aws.sns)
    _duplicate_skipped(e2e, correlation_id)

    item = e2e.get_item("Orders", {"order_id": event["order_id"]})
    assert item is not None and item["write_count"] == 1, (
        f"expected one write for event {event['event_id']} delivered twice; Orders has {item}"
    )


def test_same_event_sent_twice_straight_to_the_queue_is_written_once(
    e2e: Any, correlation_id: str
) -> None:
    event = e2e.order(correlation_id)
    attributes = {k: event[k] for k in ("event_type", "event_id", "correlation_id")}
    e2e.send_raw("EventQueue", json.dumps(event), attributes)
    e2e.wait_for_item("Orders", {"order_id": event["order_id"]})

    second = e2e.send_raw("EventQueue", json.dumps(event), attributes)
    _duplicate_skipped(e2e, correlation_id, message_id=second)

    item = e2e.get_item("Orders", {"order_id": event["order_id"]})
    assert item is not None and item["write_count"] == 1, (
        f"expected one write for two SQS messages with event_id {event['event_id']}; "
        f"Orders has {item}"
    )


def _lambda_record(message: Any, queue_arn: str, region: str) -> dict[str, Any]:
    """The SQS record exactly as Lambda's event source mapping hands it to the function."""
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": message.attributes,
        "messageAttributes": {
            name: {
                "stringValue": value,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
            for name, value in message.message_attributes.items()
        },
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def test_redelivery_after_visibility_timeout_is_written_once(
    e2e: Any, aws: AwsClients, correlation_id: str, sqs_create_queue: Any
) -> None:
    """A real SQS redelivery of one message after its visibility timeout ran out.

    EventQueue's own mapping deletes what it processed, and its 61 s visibility timeout
    makes waiting for a redelivery there far too slow, so the poller's part is played by
    the test on a private queue with a 2 s timeout: receive, invoke the real
    order_consumer, "crash" before deleting; SQS then redelivers the same message
    (ApproximateReceiveCount 2), which is handed to order_consumer again.
    """
    queue_url = sqs_create_queue(Attributes={"VisibilityTimeout": "2"})
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    event = e2e.order(correlation_id)
    aws.sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            k: {"DataType": "String", "StringValue": event[k]}
            for k in ("event_type", "event_id", "correlation_id")
        },
    )

    def deliver(receive_count: int) -> dict[str, Any]:
        # A plain receive: the queue is private, and the message must stay in flight
        # (receive_until would hand it back at once).
        def receive() -> Any:
            got = aws.sqs.receive_message(
                QueueUrl=queue_url,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            return got[0] if got else None

        raw = wait_until(receive, timeout=10, description=f"delivery #{receive_count}")
        message = ReceivedMessage(
            message_id=raw["MessageId"],
            body=raw["Body"],
            parsed=None,
            attributes=raw["Attributes"],
            message_attributes={
                k: v["StringValue"] for k, v in raw.get("MessageAttributes", {}).items()
            },
            receipt_handle=raw["ReceiptHandle"],
        )
        assert message.receive_count == receive_count, (
            f"expected delivery #{receive_count}, SQS says {message.attributes}"
        )
        record = _lambda_record(message, queue_arn, aws.region)
        response = aws.lambda_.invoke(
            FunctionName=e2e.function("order_consumer"),
            Payload=json.dumps({"Records": [record]}).encode(),
        )
        payload = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, f"order_consumer failed: {payload}"
        assert payload == {"batchItemFailures": []}, f"delivery #{receive_count}: {payload}"
        return record

    first = deliver(1)
    sent_back = time.monotonic()
    # No delete: the visibility timeout (2 s) runs out and SQS delivers the message again.
    second = deliver(2)
    waited = time.monotonic() - sent_back
    assert second["messageId"] == first["messageId"], "SQS redelivered a different message"
    assert waited >= 1.0, f"redelivered after {waited:.1f}s, before the 2 s visibility timeout"
    _duplicate_skipped(e2e, correlation_id, message_id=first["messageId"])

    item = e2e.get_item("Orders", {"order_id": event["order_id"]})
    assert item is not None and item["write_count"] == 1, (
        f"expected one write for a message delivered twice; Orders has {item}"
    )
