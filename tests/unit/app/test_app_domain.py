"""Pure domain code of every function: schemas, idempotency keys, the writes they build."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
HANDLERS = REPO / "handlers"
ORDER_FUNCTIONS = ("order_consumer", "order_fifo_consumer", "order_placed_handler")


def valid_order(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "order_placed",
        "event_id": "e1",
        "correlation_id": "c-1",
        "order_id": "o1",
        "customer_id": "c1",
        "sku": "S",
        "quantity": 1,
        "amount": 0,
    }
    body.update(overrides)
    return body


@pytest.fixture
def models(domain_of: Any) -> SimpleNamespace:
    return domain_of("order_consumer").models


# --- the function folders and the shared layer ---------------------------------------


def test_every_function_folder_holds_only_its_own_code(any_function: str) -> None:
    folder = HANDLERS / any_function
    expected = ["app.py", "domain.py", "requirements.txt"]
    assert sorted(p.name for p in folder.iterdir() if p.suffix in (".py", ".txt")) == expected
    assert (folder / "requirements.txt").read_text().split() == ["aws-lambda-powertools==3.37.0"]


def test_every_function_uses_the_shared_layer(any_function: str) -> None:
    topology = yaml.safe_load((REPO / "infra" / "topology.yaml").read_text())
    assert topology["functions"][any_function]["layers"] == ["shared"]
    assert (REPO / topology["layers"]["shared"]["code"] / "python" / "eda_events").is_dir()


# --- the shared models (eda_events.models) ----------------------------------------------


def test_valid_order_parses(models: SimpleNamespace) -> None:
    order = models.parse_order(valid_order(amount=12.25, quantity=3))
    assert order == models.Order(
        event_id="e1",
        correlation_id="c-1",
        order_id="o1",
        customer_id="c1",
        sku="S",
        quantity=3,
        amount=12.25,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "shown"),
    [
        ({"event_type": "user_signup"}, "event_type", "'user_signup'"),
        ({"event_type": None}, "event_type", "None"),
        ({"event_id": ""}, "event_id", "''"),
        ({"correlation_id": 5}, "correlation_id", "5"),
        ({"customer_id": "  "}, "customer_id", "'  '"),
        ({"sku": "POISON"}, "sku", "'POISON'"),
        ({"quantity": 0}, "quantity", "0"),
        ({"quantity": 1.0}, "quantity", "1.0"),
        ({"quantity": True}, "quantity", "True"),
        ({"amount": -0.01}, "amount", "-0.01"),
        ({"amount": "1"}, "amount", "'1'"),
        ({"amount": math.inf}, "amount", "inf"),
        ({"amount": False}, "amount", "False"),
    ],
)
def test_invalid_order_names_field_and_value(
    models: SimpleNamespace, overrides: dict[str, Any], field: str, shown: str
) -> None:
    with pytest.raises(models.InvalidEvent) as caught:
        models.parse_order(valid_order(**overrides))

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}={shown}: ")


def test_missing_field_is_named(models: SimpleNamespace) -> None:
    body = valid_order()
    del body["order_id"]
    with pytest.raises(models.InvalidEvent, match=r"^order_id=<missing>: must be a non-empty"):
        models.parse_order(body)


def test_huge_value_is_truncated_in_message(models: SimpleNamespace) -> None:
    with pytest.raises(models.InvalidEvent) as caught:
        models.load_json_object("x" * 10_000)
    assert len(str(caught.value)) < 300
    assert caught.value.value == "x" * 10_000


def test_nan_from_json_is_refused(models: SimpleNamespace) -> None:
    body = models.load_json_object(json.dumps(valid_order(amount=float("nan"))))
    with pytest.raises(models.InvalidEvent, match=r"^amount="):
        models.parse_order(body)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({}, None),
        ({"email": "no-at-sign"}, "email"),
        ({"name": ""}, "name"),
        ({"user_id": None}, "user_id"),
        ({"event_type": "order_placed"}, "event_type"),
    ],
)
def test_signup_schema(
    models: SimpleNamespace, overrides: dict[str, Any], field: str | None
) -> None:
    data = {
        "event_type": "user_signup",
        "event_id": "e",
        "correlation_id": "c",
        "user_id": "u1",
        "email": "a@b.c",
        "name": "Ann",
    }
    data.update(overrides)
    if field is None:
        assert models.parse_signup(data).email == "a@b.c"
        return
    with pytest.raises(models.InvalidEvent) as caught:
        models.parse_signup(data)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"event_id": "e1", "correlation_id": "c1"}', ("e1", "c1")),
        ('{"event_id": 3}', (None, None)),
        ("[]", (None, None)),
        ("not json", (None, None)),
    ],
)
def test_peek_ids(models: SimpleNamespace, body: str, expected: tuple[Any, Any]) -> None:
    assert models.peek_ids(body) == expected


def test_build_update_sets_fields_and_adds_write_count(models: SimpleNamespace) -> None:
    spec = models.build_update({"user_id": "u1"}, {"name": "Ann", "amount": 9.5, "n": 2})

    assert spec == {
        "Key": {"user_id": "u1"},
        "UpdateExpression": "SET #name = :name, #amount = :amount, #n = :n ADD #write_count :one",
        "ExpressionAttributeNames": {
            "#write_count": "write_count",
            "#name": "name",
            "#amount": "amount",
            "#n": "n",
        },
        "ExpressionAttributeValues": {
            ":one": 1,
            ":name": "Ann",
            ":amount": Decimal("9.5"),
            ":n": 2,
        },
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (json.dumps(valid_order(event_id="evt-9")), "evt-9"),
        (json.dumps({"event_id": ""}), "msg-1"),
        ("garbage", "msg-1"),
    ],
)
def test_sqs_idempotency_key(models: SimpleNamespace, body: str, expected: str) -> None:
    assert models.idempotency_key(body, "msg-1") == expected


# --- per-function domain modules --------------------------------------------------


def test_order_consumer_update(domain_of: Any) -> None:
    fn = domain_of("order_consumer")
    order = fn.domain.parse_order_body(json.dumps(valid_order(amount=2.5)))
    spec = fn.models.order_update(order, written_at=1700000000.25)

    assert spec["Key"] == {"order_id": "o1"}
    assert spec["UpdateExpression"].endswith(" ADD #write_count :one")
    assert spec["ExpressionAttributeValues"][":amount"] == Decimal("2.5")
    assert spec["ExpressionAttributeValues"][":correlation_id"] == "c-1"
    assert spec["ExpressionAttributeValues"][":event_id"] == "e1"
    assert spec["ExpressionAttributeValues"][":written_at"] == Decimal("1700000000.25")


def test_order_consumer_rejects_non_json_body(domain_of: Any) -> None:
    fn = domain_of("order_consumer")
    with pytest.raises(fn.models.InvalidEvent, match=r"^body='\{oops': is not valid JSON$"):
        fn.domain.parse_order_body("{oops")


def test_fifo_sequenced_order_and_update(domain_of: Any) -> None:
    fn = domain_of("order_fifo_consumer")
    item = fn.domain.parse_sequenced_order(json.dumps(valid_order(seq=4)))
    spec = fn.domain.sequence_update(item, written_at=1700000000.5)

    assert item.seq == 4
    assert spec["Key"] == {"customer_id": "c1"}
    assert "list_append(if_not_exists(#seqs, :empty), :seq)" in spec["UpdateExpression"]
    assert spec["UpdateExpression"].endswith(" ADD #write_count :one")
    assert spec["ExpressionAttributeValues"][":seq"] == [4]
    assert spec["ExpressionAttributeValues"][":written_at"] == [Decimal("1700000000.5")]
    assert (
        "list_append(if_not_exists(#written_at, :empty), :written_at)" in spec["UpdateExpression"]
    )
    assert spec["ExpressionAttributeValues"][":correlation_id"] == "c-1"


def test_fifo_requires_seq(domain_of: Any) -> None:
    fn = domain_of("order_fifo_consumer")
    with pytest.raises(fn.models.InvalidEvent, match=r"^seq=<missing>"):
        fn.domain.parse_sequenced_order(json.dumps(valid_order()))


def test_placed_order_update(domain_of: Any) -> None:
    fn = domain_of("order_placed_handler")
    order = fn.domain.parse_detail(valid_order())
    payload = fn.domain.order_payload(order)

    assert payload["event_id"] == "e1"
    assert fn.models.Order(**payload) == order
    update = fn.models.order_update(order, written_at=1700000000.0)
    assert update["Key"] == {"order_id": "o1"}
    assert update["ExpressionAttributeValues"][":written_at"] == Decimal("1700000000.0")


def test_signup_welcome_update(domain_of: Any) -> None:
    fn = domain_of("user_signup_handler")
    signup = fn.domain.parse_message(
        json.dumps(
            {
                "event_type": "user_signup",
                "event_id": "e",
                "correlation_id": "c",
                "user_id": "u1",
                "email": "a@b.c",
                "name": "Ann",
            }
        )
    )
    spec = fn.domain.welcome_update(signup)

    assert spec["Key"] == {"user_id": "u1"}
    assert spec["ExpressionAttributeNames"]["#name"] == "name"
    assert spec["ExpressionAttributeValues"][":welcome_message"] == "Welcome, Ann!"
    assert fn.models.Signup(**fn.domain.signup_payload(signup)) == signup


def test_signup_message_must_be_json(domain_of: Any) -> None:
    fn = domain_of("user_signup_handler")
    with pytest.raises(fn.models.InvalidEvent) as caught:
        fn.domain.parse_message("hello")
    assert caught.value.field == "Message"
