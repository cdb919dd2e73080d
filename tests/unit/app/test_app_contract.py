"""Producer to consumer through moto's SNS, SQS and EventBridge, wired as the topology wires
them: what the producers send is what the functions accept."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from eda_app import publish_event, publish_order, put_events

REGION = "us-east-1"


def lambda_sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS API ReceiveMessage message reshaped as Lambda's SQS event record."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": attribute.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": attribute["DataType"],
            }
            for name, attribute in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    return list(
        sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
    )


def test_sns_raw_delivery_to_order_consumer(
    aws: Any, load_handler: Any, table: Any, events: SimpleNamespace
) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="EventTopic")["TopicArn"]
    url, arn = queue(sqs, "EventQueue")
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"event_type": ["order_placed"]}),
            "FilterPolicyScope": "MessageAttributes",
        },
    )

    order = events.order()
    del order["event_id"], order["correlation_id"]
    event_id = publish_event(order, topic_arn=topic, sns_client=sns)
    publish_event(events.signup(), topic_arn=topic, sns_client=sns)  # filtered out

    messages = receive(sqs, url)
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["event_id"] == event_id
    assert (
        messages[0]["MessageAttributes"]["correlation_id"]["StringValue"] == body["correlation_id"]
    )

    consumer = load_handler("order_consumer")
    response = consumer({"Records": [lambda_sqs_record(messages[0], arn)]})

    assert response == {"batchItemFailures": []}
    item = table("ORDERS_TABLE").get_item(Key={"order_id": "o1"})["Item"]
    assert (item["event_id"], item["correlation_id"]) == (event_id, body["correlation_id"])


def test_fifo_topic_to_fifo_consumer(
    aws: Any, load_handler: Any, table: Any, events: SimpleNamespace
) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="OrderTopic.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, arn = queue(sqs, "OrderQueue.fifo", FifoQueue="true")
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    for seq in (1, 2, 3):
        publish_order(
            events.order(order_id=f"o{seq}", event_id=f"e{seq}", seq=seq),
            topic_arn=topic,
            sns_client=sns,
        )

    messages = receive(sqs, url)
    assert [m["Attributes"]["MessageGroupId"] for m in messages] == ["c1"] * 3
    assert [m["Attributes"]["MessageDeduplicationId"] for m in messages] == ["o1", "o2", "o3"]

    consumer = load_handler("order_fifo_consumer")
    response = consumer({"Records": [lambda_sqs_record(m, arn) for m in messages]})

    assert response == {"batchItemFailures": []}
    item = table("SEQUENCES_TABLE").get_item(Key={"customer_id": "c1"})["Item"]
    assert [int(s) for s in item["seqs"]] == [1, 2, 3]


@pytest.mark.parametrize(("amount", "delivered"), [(9.5, True), (-1, False)])
def test_eventbridge_rule_to_order_placed_handler(
    aws: Any,
    load_handler: Any,
    table: Any,
    events: SimpleNamespace,
    amount: float,
    delivered: bool,
) -> None:
    eventbridge = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bus = eventbridge.create_event_bus(Name="app-bus")["EventBusArn"]
    url, arn = queue(sqs, "capture")
    # The topology's OrderPlaced pattern; an SQS target stands in for the function.
    pattern = {
        "source": ["my.application"],
        "detail-type": ["application.event"],
        "detail": {"event_type": ["order_placed"], "amount": [{"numeric": [">=", 0]}]},
    }
    eventbridge.put_rule(
        Name="OrderPlaced", EventBusName="app-bus", EventPattern=json.dumps(pattern)
    )
    eventbridge.put_targets(
        Rule="OrderPlaced", EventBusName="app-bus", Targets=[{"Id": "capture", "Arn": arn}]
    )

    put_events([events.order(amount=amount)], bus_name=bus, events_client=eventbridge)

    messages = receive(sqs, url)
    assert len(messages) == (1 if delivered else 0)
    if not delivered:
        return
    handler = load_handler("order_placed_handler")
    assert handler(json.loads(messages[0]["Body"])) == {"order_id": "o1", "event_id": "evt-o1"}
    assert table("PLACED_ORDERS_TABLE").get_item(Key={"order_id": "o1"})["Item"]["write_count"] == 1
