"""The reference system's own JavaScript: event_logger (its handler, on every EventTopic
event), signup_consumer (Node.js on the SQS path, Powertools batch and idempotency) and the
Node.js producer (its publishEvent and putEvent), run with node against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from eda_app import publish_event
from eda_sandbox.config import load_settings
from eda_sandbox.executor.runtimes import NodeRuntime
from eda_sandbox.testing import AwsClients, wait_for_log

PRODUCER = Path(__file__).resolve().parents[2] / "src" / "eda_app" / "node" / "cli.mjs"


@pytest.mark.parametrize("kind", ["signup", "order"])
def test_event_logger_logs_every_event_type(
    e2e: Any, aws: AwsClients, correlation_id: str, kind: str
) -> None:
    event = getattr(e2e, kind)(correlation_id)
    publish_event(event, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)
    [line] = wait_for_log(aws.logs, e2e.function("event_logger"), correlation_id)
    _, _, level, message = line.split("\t", 3)
    assert level == "INFO"
    assert message.startswith("Event Received: {\r  "), message  # JSON.stringify(event, null, 2)
    sns_event = json.loads(message.removeprefix("Event Received: ").replace("\r", "\n"))
    assert json.loads(sns_event["Records"][0]["Sns"]["Message"]) == event


def test_signup_reaches_the_node_consumer_through_sqs(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    event = e2e.signup(correlation_id, name="Node Reader")
    publish_event(event, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)
    item = e2e.wait_for_item("Signups", {"user_id": event["user_id"]})
    assert {k: item[k] for k in ("name", "email", "event_id", "correlation_id")} == {
        k: event[k] for k in ("name", "email", "event_id", "correlation_id")
    }
    assert item["consumer"] == "signup_consumer"
    assert item["write_count"] == 1


def _record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"not-a-real-handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:SignupQueue",
    }


def invoke_batch(aws: AwsClients, function: str, records: list[dict[str, Any]]) -> Any:
    resp = aws.lambda_.invoke(
        FunctionName=function, Payload=json.dumps({"Records": records}).encode()
    )
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return body


def test_partial_batch_failure_and_idempotency(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    first = e2e.signup(correlation_id, name="First")
    again = {**first, "name": "Second"}  # the same event id: a duplicate delivery
    bad = e2e.signup(correlation_id, event_id=f"{correlation_id}-bad", email="no-at-sign")
    consumer = e2e.function("signup_consumer")
    batch = [_record("m-first", json.dumps(first)), _record("m-bad", json.dumps(bad))]
    assert invoke_batch(aws, consumer, batch) == {
        "batchItemFailures": [{"itemIdentifier": "m-bad"}]
    }
    # The same event delivered again (a new message): skipped, its first result stands.
    assert invoke_batch(aws, consumer, [_record("m-again", json.dumps(again))]) == {
        "batchItemFailures": []
    }
    item = e2e.wait_for_item("Signups", {"user_id": first["user_id"]})
    assert item["name"] == "First" and item["write_count"] == 1, item


def test_poison_signup_reaches_the_dlq(
    e2e: Any, aws: AwsClients, correlation_id: str, assert_in_dlq: Any
) -> None:
    event = e2e.signup(correlation_id, email="no-at-sign")
    publish_event(event, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)
    # Three receives, 1 s and 2 s apart (retry_backoff.mjs), then SQS moves it.
    message = assert_in_dlq(e2e.queue_url("SignupQueue-dlq"), correlation_id)
    assert json.loads(message.body) == event


def run_producer(aws: AwsClients, *args: str) -> subprocess.CompletedProcess[str]:
    node = NodeRuntime("nodejs22.x").locate(load_settings().runtimes_dir).executable
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_REGION": aws.region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    return subprocess.run(
        [str(node), str(PRODUCER), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_node_producer_publishes_and_puts_events(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    signup = e2e.signup(correlation_id)
    done = run_producer(
        aws, "publish-event", json.dumps(signup), "--topic-arn", e2e.topic_arn("EventTopic")
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"event_id": signup["event_id"]}
    assert "Message published:" in done.stdout
    order = e2e.order(correlation_id)
    bus = e2e.topology["buses"]["app-bus"]["name"]
    done = run_producer(aws, "put-event", json.dumps(order), "--bus", bus)
    assert done.returncode == 0, done.stderr
    # What the consumers wrote: the Python handler and the Node consumer for the signup,
    # the EventBridge rule's handler for the order.
    assert (
        e2e.wait_for_item("Users", {"user_id": signup["user_id"]})["event_id"] == signup["event_id"]
    )
    assert (
        e2e.wait_for_item("Signups", {"user_id": signup["user_id"]})["event_id"]
        == signup["event_id"]
    )
    placed = e2e.wait_for_item("PlacedOrders", {"order_id": order["order_id"]})
    assert placed["correlation_id"] == correlation_id


def test_node_producer_does_not_swallow_errors(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    signup = e2e.signup(correlation_id)
    arn = e2e.topic_arn("EventTopic").replace("EventTopic", f"no-such-topic-{correlation_id[-12:]}")
    done = run_producer(aws, "publish-event", json.dumps(signup), "--topic-arn", arn)
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith(f"PublishError: SNS publish to {arn} failed"), done.stderr
    done = run_producer(
        aws, "publish-event", json.dumps({"event_type": "nope"}), "--topic-arn", "x"
    )
    assert done.returncode == 1
    assert done.stderr.startswith("InvalidEventError: event_type must be one of"), done.stderr
