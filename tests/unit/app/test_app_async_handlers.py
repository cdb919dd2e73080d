"""user_signup_handler (SNS) and order_placed_handler (EventBridge): async invokes."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from eda_events.models import InvalidEvent


@pytest.fixture
def signup_handler(load_handler: Any) -> Any:
    return load_handler("user_signup_handler")


@pytest.fixture
def placed_handler(load_handler: Any) -> Any:
    return load_handler("order_placed_handler")


@pytest.fixture
def users(table: Any) -> Any:
    return table("USERS_TABLE")


@pytest.fixture
def placed_orders(table: Any) -> Any:
    return table("PLACED_ORDERS_TABLE")


# --- user_signup_handler -----------------------------------------------------------


def test_signup_writes_welcome_record(
    signup_handler: Any, users: Any, events: SimpleNamespace
) -> None:
    result = signup_handler(events.sns_event(events.signup()))

    assert result == {"processed": [{"user_id": "u1", "event_id": "evt-u1"}]}
    assert users.get_item(Key={"user_id": "u1"})["Item"] == {
        "user_id": "u1",
        "email": "ann@example.com",
        "name": "Ann",
        "welcome_message": "Welcome, Ann!",
        "event_id": "evt-u1",
        "correlation_id": "corr-u1",
        "write_count": 1,
    }
    stored = [line for line in signup_handler.log_lines() if line["message"] == "welcome stored"]
    assert stored[0]["correlation_id"] == "corr-u1"


def test_signup_delivered_twice_writes_once(
    signup_handler: Any, users: Any, events: SimpleNamespace
) -> None:
    first = signup_handler(events.sns_event(events.signup()))
    second = signup_handler(events.sns_event(events.signup()))

    assert second == first
    assert users.get_item(Key={"user_id": "u1"})["Item"]["write_count"] == 1


def test_different_events_for_one_user_both_count(
    signup_handler: Any, users: Any, events: SimpleNamespace
) -> None:
    # Guards the test above: idempotency is per event id, not per user.
    signup_handler(events.sns_event(events.signup()))
    signup_handler(events.sns_event(events.signup(event_id="evt-u1-again")))

    assert users.get_item(Key={"user_id": "u1"})["Item"]["write_count"] == 2


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("{not json", "Message"),
        ({"event_type": "order_placed", "event_id": "e", "correlation_id": "c"}, "event_type"),
        ({"email": "ann.example.com"}, "email"),
        ({"user_id": ""}, "user_id"),
        ({"name": 7}, "name"),
    ],
)
def test_invalid_signup_raises_and_writes_nothing(
    signup_handler: Any, users: Any, events: SimpleNamespace, message: Any, field: str
) -> None:
    if isinstance(message, dict) and "event_type" not in message:
        message = events.signup(**message)
    raw = events.sns_event(message, attributes={"correlation_id": "corr-attr"})

    with pytest.raises(InvalidEvent) as caught:
        signup_handler(raw)

    assert caught.value.field == field
    assert users.scan()["Items"] == []
    errors = [line for line in signup_handler.log_lines() if line["level"] == "ERROR"]
    assert errors[0]["field"] == field
    assert errors[0]["reason"] == str(caught.value)
    expected = message["correlation_id"] if isinstance(message, dict) else "corr-attr"
    assert errors[0]["correlation_id"] == expected


def test_failed_signup_is_not_remembered(
    signup_handler: Any, users: Any, events: SimpleNamespace
) -> None:
    with pytest.raises(InvalidEvent):
        signup_handler(events.sns_event(events.signup(email="nope")))
    signup_handler(events.sns_event(events.signup()))

    assert users.get_item(Key={"user_id": "u1"})["Item"]["write_count"] == 1


# --- order_placed_handler ----------------------------------------------------------


def test_placed_order_is_stored(
    placed_handler: Any, placed_orders: Any, events: SimpleNamespace
) -> None:
    result = placed_handler(events.eventbridge_event(events.order()))

    assert result == {"order_id": "o1", "event_id": "evt-o1"}
    item = placed_orders.get_item(Key={"order_id": "o1"})["Item"]
    assert item["amount"] == Decimal("9.5")
    assert item["quantity"] == 2
    assert item["correlation_id"] == "corr-o1"
    assert item["write_count"] == 1
    lines = [line for line in placed_handler.log_lines() if line["message"] == "order stored"]
    assert lines[0]["correlation_id"] == "corr-o1"
    assert lines[0]["eventbridge_id"] == "eb-1"


def test_placed_order_delivered_twice_writes_once(
    placed_handler: Any, placed_orders: Any, events: SimpleNamespace
) -> None:
    # EventBridge retries carry a new envelope id; the event id inside is what repeats.
    placed_handler(events.eventbridge_event(events.order(), event_id="eb-1"))
    placed_handler(events.eventbridge_event(events.order(), event_id="eb-2"))

    assert placed_orders.get_item(Key={"order_id": "o1"})["Item"]["write_count"] == 1
    assert any(line["message"] == "duplicate order skipped" for line in placed_handler.log_lines())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sku": "POISON"}, "sku"),
        ({"quantity": 0}, "quantity"),
        ({"amount": -1}, "amount"),
        ({"order_id": None}, "order_id"),
    ],
)
def test_invalid_placed_order_raises(
    placed_handler: Any,
    placed_orders: Any,
    events: SimpleNamespace,
    overrides: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        placed_handler(events.eventbridge_event(events.order(**overrides)))

    assert caught.value.field == field
    assert placed_orders.scan()["Items"] == []
    errors = [line for line in placed_handler.log_lines() if line["level"] == "ERROR"]
    assert errors[0]["correlation_id"] == "corr-o1"
    assert errors[0]["reason"] == str(caught.value)


def test_detail_that_is_not_an_object_raises(placed_handler: Any, events: SimpleNamespace) -> None:
    with pytest.raises(InvalidEvent) as caught:
        placed_handler(events.eventbridge_event("just a string"))

    assert caught.value.field == "event"
