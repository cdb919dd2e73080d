"""IAM enforcement: a function's call that its role does not allow is refused with the
service's access-denied error and AWS's message, and a message whose handler is refused
ends in the DLQ.

The functions' roles carry the opt-in tag (``enforce_iam=True``), so these tests run in
every sandbox, enforcing for all roles (``--enforce-iam``) or not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from eda_sandbox.testing import AwsClients, allow_topic

pytestmark = pytest.mark.integration

HANDLER = """
import os
import boto3
from botocore.exceptions import ClientError

CALLS = {
    "sqs": lambda: boto3.client("sqs").send_message(
        QueueUrl=os.environ["TARGET_QUEUE"], MessageBody="from the function"),
    "sns": lambda: boto3.client("sns").publish(TopicArn=os.environ["TOPIC"], Message="x"),
    "dynamodb": lambda: boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE"], Item={"pk": {"S": "x"}}),
    "dynamodb_read": lambda: boto3.client("dynamodb").get_item(
        TableName=os.environ["TABLE"], Key={"pk": {"S": "x"}}),
}

def handler(event, context):
    if "Records" in event:  # from SQS: the refused call fails the batch
        CALLS["sqs"]()
        return {}
    try:
        CALLS[event["call"]]()
    except ClientError as e:
        return {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return {"code": None}
"""


def _queue_arn(aws: AwsClients, url: str) -> str:
    attrs = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


@pytest.fixture
def resources(
    aws: AwsClients, sqs_create_queue: Any, sns_create_topic: Any, correlation_id: str
) -> Any:
    table = f"iam-{correlation_id}"
    table_arn = aws.dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    target = sqs_create_queue()
    yield {
        "table": table,
        "table_arn": table_arn,
        "target": target,
        "target_arn": _queue_arn(aws, target),
        "topic": sns_create_topic(),
    }
    aws.dynamodb.delete_table(TableName=table)


def _function(lambda_create_function: Any, res: dict[str, Any], extra: list[Any]) -> Any:
    env = {"TARGET_QUEUE": res["target"], "TOPIC": res["topic"], "TABLE": res["table"]}
    permissions = [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": res["table_arn"]},
        # Allowed by the first statement, refused by the second: an explicit deny.
        {"Effect": "Allow", "Action": "sns:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sns:Publish", "Resource": res["topic"]},
        *extra,
    ]
    return lambda_create_function(
        {"app.py": HANDLER},
        Environment={"Variables": env},
        permissions=permissions,
        enforce_iam=True,
    )


def _invoke(aws: AwsClients, name: str, event: dict[str, Any]) -> dict[str, Any]:
    resp = aws.lambda_.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body: dict[str, Any] = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return body


def test_calls_the_role_does_not_allow_are_refused_as_aws_refuses_them(
    aws: AwsClients, lambda_create_function: Any, resources: dict[str, Any]
) -> None:
    fn = _function(lambda_create_function, resources, [])
    name, role = fn["FunctionName"], fn["Role"].rsplit("/", 1)[1]
    principal = f"arn:aws:sts::{fn['FunctionArn'].split(':')[4]}:assumed-role/{role}/{name}"

    assert _invoke(aws, name, {"call": "dynamodb_read"}) == {"code": None}
    cases = {
        "sqs": ("AccessDenied", 403, "sqs:SendMessage", resources["target_arn"], "no identity"),
        "dynamodb": ("AccessDeniedException", 400, "dynamodb:PutItem", resources["table_arn"],
                     "no identity"),
        "sns": ("AuthorizationError", 403, "sns:Publish", resources["topic"], "explicit deny"),
    }  # fmt: skip
    for call, (code, status, action, resource, why) in cases.items():
        answer = _invoke(aws, name, {"call": call})
        head = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
        reason = (
            f" because no identity-based policy allows the {action} action"
            if why == "no identity"
            else " with an explicit deny in an identity-based policy"
        )
        assert answer == {"code": code, "status": status, "message": head + reason}, call


def test_a_message_whose_handler_is_refused_ends_in_the_dlq(
    aws: AwsClients,
    lambda_create_function: Any,
    sqs_create_queue: Any,
    resources: dict[str, Any],
    assert_in_dlq: Any,
    correlation_id: str,
) -> None:
    dlq = sqs_create_queue()
    source = sqs_create_queue(
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": _queue_arn(aws, dlq), "maxReceiveCount": "1"}
            ),
        }
    )
    consume = {
        "Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
        "Resource": _queue_arn(aws, source),
    }
    fn = _function(lambda_create_function, resources, [consume])
    mapping = aws.lambda_.create_event_source_mapping(
        EventSourceArn=_queue_arn(aws, source), FunctionName=fn["FunctionName"], BatchSize=1
    )
    try:
        aws.sqs.send_message(QueueUrl=source, MessageBody=f"order {correlation_id}")
        message = assert_in_dlq(dlq, correlation_id, timeout=45)
        assert message.body == f"order {correlation_id}"
        # The refused SendMessage sent nothing.
        left = aws.sqs.receive_message(QueueUrl=resources["target"], WaitTimeSeconds=0)
        assert left.get("Messages", []) == []
    finally:
        aws.lambda_.delete_event_source_mapping(UUID=mapping["UUID"])


def test_sns_delivers_to_a_queue_only_if_its_policy_allows_it_when_iam_is_enforced(
    aws: AwsClients,
    sqs_create_queue: Any,
    sns_create_topic: Any,
    receive_until: Any,
    assert_in_dlq: Any,
    correlation_id: str,
    iam_enforced: bool,
) -> None:
    """With IAM enforced, a queue whose policy does not allow the topic gets nothing and
    the subscription's DLQ gets the message (on AWS too); without, LocalStack delivers
    anyway. A queue whose policy allows the topic gets it either way."""
    topic = sns_create_topic()
    allowed, closed, dlq = sqs_create_queue(), sqs_create_queue(), sqs_create_queue()
    allow_topic(aws.sqs, allowed, topic)
    allow_topic(aws.sqs, dlq, topic)
    for url, extra in ((allowed, {}), (closed, {"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": _queue_arn(aws, dlq)})})):  # fmt: skip
        aws.sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=_queue_arn(aws, url),
            Attributes={"RawMessageDelivery": "true", **extra},
        )
    aws.sns.publish(TopicArn=topic, Message=f"event {correlation_id}")

    receive_until(allowed, match=lambda m: correlation_id in m.body, timeout=20)
    if iam_enforced:
        assert_in_dlq(dlq, correlation_id, timeout=20)
        assert aws.sqs.receive_message(QueueUrl=closed).get("Messages") is None
    else:
        receive_until(closed, match=lambda m: correlation_id in m.body, timeout=20)
