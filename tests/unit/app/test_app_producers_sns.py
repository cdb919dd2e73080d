"""Producers: the event envelope, sizes, SNS and FIFO publishing, the outputs file."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from eda_app import (
    InvalidEventError,
    MessageTooLargeError,
    OutputsError,
    PublishError,
    prepare_event,
    producers,
    publish_event,
    publish_order,
)
from eda_app.events import MAX_MESSAGE_BYTES, sns_attributes, sns_size
from eda_app.outputs import Outputs, load_outputs

TOPIC = "arn:aws:sns:us-east-1:123456789012:EventTopic"
FIFO_TOPIC = "arn:aws:sns:us-east-1:123456789012:OrderTopic.fifo"
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/app-bus"
OUTPUTS = {
    "topics": {"EventTopic": {"arn": TOPIC}, "OrderTopic.fifo": {"arn": FIFO_TOPIC}},
    "queues": {"EventQueue": {"url": "http://q/EventQueue", "arn": "arn:q"}},
    "buses": {"app-bus": {"arn": BUS}},
    "tables": {"Users": {"name": "Users-x"}},
    "functions": {},
}


def signup(**overrides: Any) -> dict[str, Any]:
    event = {"event_type": "user_signup", "user_id": "u1", "email": "a@b.c", "name": "Ann"}
    event.update(overrides)
    return event


def order(n: int = 1, **overrides: Any) -> dict[str, Any]:
    event = {
        "event_type": "order_placed",
        "event_id": f"e{n}",
        "correlation_id": f"c{n}",
        "order_id": f"o{n}",
        "customer_id": "c1",
        "sku": "S",
        "quantity": 1,
        "amount": 9.5,
    }
    event.update(overrides)
    return event


class FakeSns:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"MessageId": f"sns-{len(self.calls)}"}


# --- envelope ----------------------------------------------------------------------


def test_prepare_event_generates_uuid4_ids_and_copies() -> None:
    original = signup()
    event = prepare_event(original)

    assert uuid.UUID(event["event_id"]).version == 4
    assert uuid.UUID(event["correlation_id"]).version == 4
    assert event["event_id"] != event["correlation_id"]
    assert "event_id" not in original


def test_prepare_event_keeps_given_ids() -> None:
    event = prepare_event(signup(event_id="mine", correlation_id="flow-1"))
    assert (event["event_id"], event["correlation_id"]) == ("mine", "flow-1")


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (["not", "a", "dict"], "message"),
        ("text", "message"),
        ({"user_id": "u1"}, "event_type"),
        ({"event_type": "order_shipped"}, "event_type"),
        ({"event_type": "order_placed", "event_id": ""}, "event_id"),
        ({"event_type": "order_placed", "correlation_id": 7}, "correlation_id"),
    ],
)
def test_malformed_event_names_the_field(message: Any, field: str) -> None:
    sns = FakeSns()
    with pytest.raises(InvalidEventError) as caught:
        publish_event(message, topic_arn=TOPIC, sns_client=sns)

    assert caught.value.field == field
    assert field in str(caught.value)
    assert sns.calls == []


def test_non_json_value_is_refused_before_sending() -> None:
    sns = FakeSns()
    with pytest.raises(InvalidEventError, match="not JSON-serializable"):
        publish_event(order(amount=float("nan")), topic_arn=TOPIC, sns_client=sns)
    assert sns.calls == []


# --- SNS ---------------------------------------------------------------------------


def test_publish_event_request_matches_the_sns_api() -> None:
    # A real client with Stubber: botocore validates the request against the API model.
    client = boto3.client("sns", region_name="us-east-1")
    event = signup(event_id="e1", correlation_id="c1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "publish",
            {"MessageId": "m-1"},
            {
                "TopicArn": TOPIC,
                "Message": json.dumps(event, separators=(",", ":")),
                "MessageAttributes": {
                    "event_type": {"DataType": "String", "StringValue": "user_signup"},
                    "event_id": {"DataType": "String", "StringValue": "e1"},
                    "correlation_id": {"DataType": "String", "StringValue": "c1"},
                },
            },
        )
        assert publish_event(event, topic_arn=TOPIC, sns_client=client) == "e1"
        stubber.assert_no_pending_responses()


def test_publish_event_generated_ids_travel_in_body_and_attributes() -> None:
    sns = FakeSns()
    event_id = publish_event(signup(), topic_arn=TOPIC, sns_client=sns)

    (call,) = sns.calls
    body = json.loads(call["Message"])
    assert body["event_id"] == event_id
    assert call["MessageAttributes"]["event_id"]["StringValue"] == event_id
    correlation = call["MessageAttributes"]["correlation_id"]["StringValue"]
    assert body["correlation_id"] == correlation
    assert uuid.UUID(correlation).version == 4


def _padded_to(total: int) -> dict[str, Any]:
    """A signup whose SNS size (body + attributes) is exactly ``total`` bytes."""
    event = prepare_event(signup(event_id="e-size", correlation_id="c-size", name=""))
    base = sns_size(json.dumps(event, separators=(",", ":")), sns_attributes(event))
    event["name"] = "x" * (total - base)
    return event


def test_message_at_the_limit_is_sent() -> None:
    sns = FakeSns()
    publish_event(_padded_to(MAX_MESSAGE_BYTES), topic_arn=TOPIC, sns_client=sns)
    assert len(sns.calls) == 1


def test_oversized_message_is_refused_before_sending() -> None:
    sns = FakeSns()
    with pytest.raises(MessageTooLargeError) as caught:
        publish_event(_padded_to(MAX_MESSAGE_BYTES + 1), topic_arn=TOPIC, sns_client=sns)

    assert sns.calls == []
    assert (caught.value.size, caught.value.limit) == (262_145, 262_144)
    assert "262145 bytes" in str(caught.value)
    assert "262144-byte limit" in str(caught.value)


def test_multibyte_characters_count_as_bytes() -> None:
    sns = FakeSns()
    # 100k characters, 300k bytes in UTF-8.
    with pytest.raises(MessageTooLargeError):
        publish_event(signup(name="€" * 100_000), topic_arn=TOPIC, sns_client=sns)
    assert sns.calls == []


def test_client_error_is_logged_and_raised_typed(caplog: pytest.LogCaptureFixture) -> None:
    error = ClientError({"Error": {"Code": "NotFound", "Message": "no topic"}}, "Publish")
    sns = FakeSns(error=error)
    with (
        caplog.at_level(logging.ERROR, logger="eda_app.producers"),
        pytest.raises(PublishError, match="NotFound") as caught,
    ):
        publish_event(signup(event_id="e-x"), topic_arn=TOPIC, sns_client=sns)

    assert caught.value.__cause__ is error
    assert "e-x" in str(caught.value)
    assert any("e-x" in record.getMessage() for record in caplog.records)


def test_topic_arn_comes_from_the_outputs_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path))
    sns = FakeSns()

    publish_event(signup(), sns_client=sns)
    publish_order(order(), sns_client=sns)

    assert [call["TopicArn"] for call in sns.calls] == [TOPIC, FIFO_TOPIC]


def test_missing_outputs_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path))
    with pytest.raises(OutputsError, match=r"outputs\.json: not found"):
        publish_event(signup(), sns_client=FakeSns())


def test_outputs_lookup_names_what_is_missing() -> None:
    outputs = Outputs(OUTPUTS, "o.json")
    assert outputs.queue_url("EventQueue") == "http://q/EventQueue"
    assert outputs.table_name("Users") == "Users-x"
    with pytest.raises(OutputsError, match=r"no topics\.Nope \(known topics: EventTopic, "):
        outputs.topic_arn("Nope")
    with pytest.raises(OutputsError, match=r"tables\.Users\.arn"):
        outputs._lookup("tables", "Users", "arn")


def test_unreadable_outputs_file(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text("{broken")
    with pytest.raises(OutputsError, match="unreadable"):
        load_outputs(path)


# --- FIFO --------------------------------------------------------------------------


def test_publish_order_sets_group_and_dedup_ids() -> None:
    client = boto3.client("sns", region_name="us-east-1")
    event = order(1, customer_id="cust-7", order_id="ord-9", seq=3)
    with Stubber(client) as stubber:
        stubber.add_response(
            "publish",
            {"MessageId": "m-1", "SequenceNumber": "1"},
            {
                "TopicArn": FIFO_TOPIC,
                "Message": ANY,
                "MessageAttributes": ANY,
                "MessageGroupId": "cust-7",
                "MessageDeduplicationId": "ord-9",
            },
        )
        assert publish_order(event, topic_arn=FIFO_TOPIC, sns_client=client) == "e1"
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event_type": "user_signup"}, "event_type"),
        ({"customer_id": None}, "customer_id"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "x" * 129}, "order_id"),
    ],
)
def test_publish_order_refuses_what_fifo_cannot_take(overrides: dict[str, Any], field: str) -> None:
    sns = FakeSns()
    with pytest.raises(InvalidEventError) as caught:
        publish_order(order(**overrides), topic_arn=FIFO_TOPIC, sns_client=sns)
    assert caught.value.field == field
    assert sns.calls == []


# --- default clients -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected_key"),
    [({}, "test"), ({"AWS_ACCESS_KEY_ID": "AKIAREAL"}, None), ({"AWS_PROFILE": "p"}, None)],
)
def test_default_client_targets_the_settings_endpoint(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected_key: str | None
) -> None:
    sessions: list[dict[str, Any]] = []

    class RecordingSession:
        def __init__(self, **kwargs: Any) -> None:
            sessions.append(kwargs)

        def client(self, service: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
            return service, kwargs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4999")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setattr(producers.boto3.session, "Session", RecordingSession)
    producers._client.cache_clear()
    try:
        service, kwargs = producers.default_client("sns")
    finally:
        producers._client.cache_clear()

    assert service == "sns"
    assert kwargs["endpoint_url"] == "http://127.0.0.1:4999"
    assert sessions[0]["region_name"] == "eu-west-1"
    assert sessions[0].get("aws_access_key_id") == expected_key
