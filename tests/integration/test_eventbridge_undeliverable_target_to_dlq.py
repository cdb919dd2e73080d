"""EventBridge rule OrderPlaced -> a target it cannot deliver to -> OrderPlaced-target-dlq.

The reference topology declares ``retry`` and ``dlq: OrderPlaced-target-dlq`` on rule
OrderPlaced's target, and lets the rule (only) send to that queue. Each test adds a second
target to the real rule with the same RetryPolicy and DeadLetterConfig, pointing at
something EventBridge cannot deliver to, puts one order, and expects what AWS does: no
delivery, no retry (a missing resource or permission never heals by itself), and the
event in the dead-letter queue with AWS's attributes, logged at warn. Before, put_events
reported success and the event vanished; the function without a permission ran anyway.

The extra target also receives other tests' orders while it exists; their dead letters
carry other correlation ids and are never read here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eda_app import put_events
from eda_sandbox.config import load_settings
from eda_sandbox.testing import AwsClients, allow_topic, wait_until

pytestmark = pytest.mark.integration

HANDLER = {"app.py": "def handler(event, context):\n    print('INVOKED', event['id'])\n"}


@pytest.fixture
def extra_target(e2e: Any, aws: AwsClients) -> Iterator[Callable[[str], dict[str, Any]]]:
    """Adds a target to rule OrderPlaced with its declared RetryPolicy and DLQ; removed after."""
    rule = e2e.topology["rules"]["OrderPlaced"]["name"]
    bus = e2e.topology["buses"]["app-bus"]["name"]
    declared = aws.events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"][0]
    added: list[str] = []

    def add(arn: str) -> dict[str, Any]:
        target = {
            "Id": f"eb-{uuid.uuid4().hex[:12]}",
            "Arn": arn,
            "RetryPolicy": declared["RetryPolicy"],
            "DeadLetterConfig": declared["DeadLetterConfig"],
        }
        failed = aws.events.put_targets(Rule=rule, EventBusName=bus, Targets=[target])
        assert failed["FailedEntryCount"] == 0, failed
        added.append(target["Id"])
        return target

    yield add
    if added:
        aws.events.remove_targets(Rule=rule, EventBusName=bus, Ids=added)


def _allow_events(action: str, resource: str, rule_arn: str) -> str:
    """A resource policy that lets rule ``rule_arn`` (only) deliver to ``resource``."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _allow_invoke(aws: AwsClients, function: str, source_arn: str) -> None:
    aws.lambda_.add_permission(
        FunctionName=function,
        StatementId="eventbridge",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=source_arn,
    )


def _put_order(e2e: Any, aws: AwsClients, correlation_id: str) -> dict[str, Any]:
    order: dict[str, Any] = e2e.order(correlation_id)
    put_events([order], bus_name=e2e.topology["buses"]["app-bus"]["arn"], events_client=aws.events)
    return order


def _dead_letter(e2e: Any, aws: AwsClients, receive_until: Any, cid: str, target: str) -> Any:
    """The dead letter of this test's order for ``target`` (other targets get it too)."""
    return receive_until(
        e2e.queue_url("OrderPlaced-target-dlq"),
        match=lambda m: cid in m.body and m.message_attributes.get("TARGET_ARN") == target,
        timeout=15,
    )[0]


def _expect_dead_letter(
    e2e: Any, aws: AwsClients, receive_until: Any, cid: str, target: str, code: str
) -> Any:
    """Put this test's order, and expect its dead letter for ``target`` with ``code``."""
    order = _put_order(e2e, aws, cid)
    letter = _dead_letter(e2e, aws, receive_until, cid, target)
    _assert_dead_letter(e2e, letter, order, target, code)
    return letter


def _assert_dead_letter(
    e2e: Any, letter: Any, order: dict[str, Any], target: str, code: str
) -> None:
    attrs = letter.message_attributes
    expected = {
        "RULE_ARN": e2e.topology["rules"]["OrderPlaced"]["arn"],
        "TARGET_ARN": target,
        "ERROR_CODE": code,
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "0",  # AWS does not retry a missing resource or permission
    }
    assert {k: attrs.get(k) for k in expected} == expected, attrs
    assert attrs.get("ERROR_MESSAGE"), attrs
    event = letter.parsed
    assert event["detail"] == order and event["source"] == "my.application", letter.body
    assert event["detail-type"] == "application.event" and "event-bus-name" not in event
    _assert_logged_at_warn(event["id"])


def _assert_logged_at_warn(event_id: str) -> None:
    """The failure is in LocalStack's log at WARN (the default level shows it)."""
    log = load_settings().log_file

    def logged() -> str | None:
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return next((line for line in lines if f"deliver event {event_id}" in line), None)

    line = wait_until(logged, timeout=5, description=f"a log line for event {event_id} in {log}")
    assert " WARN " in line, line


def test_function_without_permission_for_eventbridge_is_denied_not_invoked(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    lambda_create_function: Any,
    extra_target: Any,
    receive_until: Any,
) -> None:
    fn = lambda_create_function(HANDLER)  # no add_permission for events.amazonaws.com
    target = extra_target(fn["FunctionArn"])["Arn"]
    letter = _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_PERMISSIONS")
    assert "lambda:InvokeFunction" in letter.message_attributes["ERROR_MESSAGE"]
    # Denied means never invoked: the function has not even a log group.
    groups = aws.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{fn['FunctionName']}"
    )["logGroups"]
    assert groups == [], groups


def test_permission_for_another_rule_does_not_let_this_rule_invoke(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    lambda_create_function: Any,
    extra_target: Any,
    receive_until: Any,
) -> None:
    fn = lambda_create_function(HANDLER)
    rule_arn = e2e.topology["rules"]["OrderPlaced"]["arn"]
    _allow_invoke(aws, fn["FunctionName"], rule_arn + "-other")
    target = extra_target(fn["FunctionArn"])["Arn"]
    _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_PERMISSIONS")


def test_deleted_function_dead_letters(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    lambda_create_function: Any,
    extra_target: Any,
    receive_until: Any,
) -> None:
    fn = lambda_create_function(HANDLER)
    _allow_invoke(aws, fn["FunctionName"], e2e.topology["rules"]["OrderPlaced"]["arn"])
    target = extra_target(fn["FunctionArn"])["Arn"]
    aws.lambda_.delete_function(FunctionName=fn["FunctionName"])
    letter = _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_RESOURCE")
    assert "Function not found" in letter.message_attributes["ERROR_MESSAGE"]


def test_function_that_never_existed_dead_letters(
    e2e: Any, aws: AwsClients, correlation_id: str, extra_target: Any, receive_until: Any
) -> None:
    account = e2e.topology["rules"]["OrderPlaced"]["arn"].split(":")[4]
    arn = f"arn:aws:lambda:{aws.region}:{account}:function:never-{uuid.uuid4().hex[:8]}"
    target = extra_target(arn)["Arn"]
    _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_RESOURCE")


def _queue_arn(aws: AwsClients, url: str) -> str:
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _allow_rule(aws: AwsClients, url: str, rule_arn: str) -> None:
    policy = _allow_events("sqs:SendMessage", _queue_arn(aws, url), rule_arn)
    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


def test_deleted_queue_dead_letters(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    sqs_create_queue: Any,
    extra_target: Any,
    receive_until: Any,
) -> None:
    url = sqs_create_queue()
    _allow_rule(aws, url, e2e.topology["rules"]["OrderPlaced"]["arn"])
    target = extra_target(_queue_arn(aws, url))["Arn"]
    aws.sqs.delete_queue(QueueUrl=url)
    _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_RESOURCE")


def test_queue_without_a_policy_for_eventbridge_is_denied(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    sqs_create_queue: Any,
    extra_target: Any,
    receive_until: Any,
) -> None:
    url = sqs_create_queue()
    target = extra_target(_queue_arn(aws, url))["Arn"]
    _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_PERMISSIONS")
    assert aws.sqs.receive_message(QueueUrl=url).get("Messages") is None


def _subscribed_queue(aws: AwsClients, sqs_create_queue: Any, topic: str) -> str:
    url = sqs_create_queue()
    aws.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=allow_topic(aws.sqs, url, topic),
        Attributes={"RawMessageDelivery": "true"},
    )
    return str(url)


def test_topic_with_its_default_policy_is_denied(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    sns_create_topic: Any,
    sqs_create_queue: Any,
    extra_target: Any,
    receive_until: Any,
) -> None:
    """A topic's default policy lets only its owner's principals publish, not EventBridge."""
    topic = sns_create_topic()
    subscriber = _subscribed_queue(aws, sqs_create_queue, topic)
    target = extra_target(topic)["Arn"]
    letter = _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_PERMISSIONS")
    assert "sns:Publish" in letter.message_attributes["ERROR_MESSAGE"]
    assert aws.sqs.receive_message(QueueUrl=subscriber).get("Messages") is None


def test_topic_that_allows_the_rule_gets_the_event(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    sns_create_topic: Any,
    sqs_create_queue: Any,
    extra_target: Any,
    receive_until: Any,
) -> None:
    topic = sns_create_topic()
    rule_arn = e2e.topology["rules"]["OrderPlaced"]["arn"]
    policy = _allow_events("sns:Publish", topic, rule_arn)
    aws.sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy)
    subscriber = _subscribed_queue(aws, sqs_create_queue, topic)
    extra_target(topic)
    order = _put_order(e2e, aws, correlation_id)
    delivered = receive_until(subscriber, match=correlation_id, timeout=15)[0]
    assert delivered.parsed["detail"] == order, delivered.body


def test_deleted_topic_dead_letters(
    e2e: Any, aws: AwsClients, correlation_id: str, extra_target: Any, receive_until: Any
) -> None:
    topic = aws.sns.create_topic(Name=f"eb-deleted-{uuid.uuid4().hex[:10]}")["TopicArn"]
    target = extra_target(topic)["Arn"]
    aws.sns.delete_topic(TopicArn=topic)
    _expect_dead_letter(e2e, aws, receive_until, correlation_id, target, "NO_RESOURCE")
