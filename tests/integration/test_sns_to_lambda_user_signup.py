"""SNS EventTopic -> user_signup_handler (async) -> Users; failures -> on-failure queue."""

from __future__ import annotations

import json
from typing import Any

from eda_app import publish_event
from eda_sandbox.testing import AwsClients


def test_signup_is_stored_once_with_its_correlation_id(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    event = e2e.signup(correlation_id, name="Ann Example")
    publish_event(event, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)

    item = e2e.wait_for_item("Users", {"user_id": event["user_id"]})

    expected = {
        "user_id": event["user_id"],
        "email": event["email"],
        "name": "Ann Example",
        "welcome_message": "Welcome, Ann Example!",
        "event_id": event["event_id"],
        "correlation_id": correlation_id,
        "write_count": 1,
    }
    assert item == expected, f"Users item: expected {expected}, got {item}"


def test_invalid_signup_reaches_on_failure_destination_after_retries(
    e2e: Any, aws: AwsClients, correlation_id: str, receive_until: Any
) -> None:
    event = e2e.signup(correlation_id, email="no-at-sign.example.com")
    publish_event(event, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)

    # 1 invocation + 1 retry (maximum_retry_attempts: 1) after LAMBDA_RETRY_BASE_DELAY.
    failures = e2e.queue_url("user_signup_handler-failures")
    record = receive_until(failures, match=correlation_id, timeout=20)[0].parsed

    context = record["requestContext"]
    assert context["condition"] == "RetriesExhausted", f"destination record: {record}"
    assert context["approximateInvokeCount"] == 2, (
        f"expected 2 invocations (1 + maximum_retry_attempts 1); destination record: {record}"
    )
    # AWS qualifies it: arn:aws:lambda:<region>:<account>:function:<name>:$LATEST
    assert context["functionArn"].split(":")[6] == e2e.function("user_signup_handler"), context
    sns = record["requestPayload"]["Records"][0]["Sns"]
    assert json.loads(sns["Message"]) == event, (
        f"destination must carry the original event {event}; it carries {sns}"
    )
    assert sns["MessageAttributes"]["correlation_id"]["Value"] == correlation_id, sns
    assert "must contain '@'" in json.dumps(record["responsePayload"]), (
        f"the error must name the broken rule; responsePayload: {record['responsePayload']}"
    )
    item = e2e.get_item("Users", {"user_id": event["user_id"]})
    assert item is None, f"an invalid signup must not be stored; Users holds {item}"
