"""The application's event schemas (standard library only) and the shape of its writes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ORDER_EVENT_TYPE = "order_placed"
SIGNUP_EVENT_TYPE = "user_signup"
# Tests make a function fail on purpose by sending this SKU; it is an ordinary validation
# rule, so production code has no test switch.
POISON_SKU = "POISON"
_REPR_LIMIT = 200


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


class InvalidEvent(ValueError):
    """The event cannot be processed as it is; retrying will not help.

    The message names the field, the offending value and the rule it breaks.
    """

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        shown = repr(value)
        if len(shown) > _REPR_LIMIT:
            shown = shown[:_REPR_LIMIT] + "..."
        super().__init__(f"{field}={shown}: {problem}")


@dataclass(frozen=True)
class Signup:
    event_id: str
    correlation_id: str
    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class Order:
    event_id: str
    correlation_id: str
    order_id: str
    customer_id: str
    sku: str
    quantity: int
    amount: int | float


def load_json_object(body: str, field: str = "body") -> dict[str, Any]:
    """Parse a message body that must be a JSON object."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError) as e:
        raise InvalidEvent(field, body, "is not valid JSON") from e
    if not isinstance(data, dict):
        raise InvalidEvent(field, data, "is not a JSON object")
    return data


def ids_of(data: object) -> tuple[str | None, str | None]:
    """(event_id, correlation_id) of a decoded event if it has them, nothing else checked.

    Used for the idempotency key and for log correlation before validation can fail.
    """
    if not isinstance(data, dict):
        return None, None
    event_id = data.get("event_id")
    correlation_id = data.get("correlation_id")
    return (
        event_id if isinstance(event_id, str) and event_id else None,
        correlation_id if isinstance(correlation_id, str) and correlation_id else None,
    )


def peek_ids(body: str) -> tuple[str | None, str | None]:
    """:func:`ids_of` for a JSON text that may not even be JSON."""
    try:
        return ids_of(json.loads(body))
    except (json.JSONDecodeError, TypeError):
        return None, None


def idempotency_key(body: str, message_id: str) -> str:
    """An SQS record's idempotency key: the event id when the body carries one, else the
    message id.

    The event id survives re-publishing (a new SQS message id), so it is the better key;
    the message id still gives an unparseable body a per-message key.
    """
    event_id, _ = peek_ids(body)
    return event_id if event_id is not None else message_id


def require_str(data: dict[str, Any], field: str) -> str:
    value = data.get(field, MISSING)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(field, value, "must be a non-empty string")
    return value


def require_int(data: dict[str, Any], field: str, minimum: int) -> int:
    value = data.get(field, MISSING)
    # bool is an int subclass; True must not pass as quantity 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(field, value, "must be an integer")
    if value < minimum:
        raise InvalidEvent(field, value, f"must be >= {minimum}")
    return value


def require_event_type(data: object, expected: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidEvent("event", data, "is not a JSON object")
    event_type = data.get("event_type", MISSING)
    if event_type != expected:
        raise InvalidEvent("event_type", event_type, f"must be {expected!r}")
    return data


def parse_signup(data: object) -> Signup:
    """Validate a user_signup event (already decoded) and return it as a :class:`Signup`."""
    data = require_event_type(data, SIGNUP_EVENT_TYPE)
    event_id = require_str(data, "event_id")
    correlation_id = require_str(data, "correlation_id")
    user_id = require_str(data, "user_id")
    email = require_str(data, "email")
    if "@" not in email:
        raise InvalidEvent("email", email, "must contain '@'")
    return Signup(
        event_id=event_id,
        correlation_id=correlation_id,
        user_id=user_id,
        email=email,
        name=require_str(data, "name"),
    )


def parse_order(data: object) -> Order:
    """Validate an order event (already decoded) and return it as an :class:`Order`."""
    data = require_event_type(data, ORDER_EVENT_TYPE)
    event_id = require_str(data, "event_id")
    correlation_id = require_str(data, "correlation_id")
    order_id = require_str(data, "order_id")
    customer_id = require_str(data, "customer_id")
    sku = require_str(data, "sku")
    if sku == POISON_SKU:
        raise InvalidEvent("sku", sku, "is the poison SKU; orders for it are rejected")
    quantity = require_int(data, "quantity", 1)
    amount = data.get("amount", MISSING)
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise InvalidEvent("amount", amount, "must be a number")
    # json.loads accepts NaN and Infinity; neither is a price
    if not math.isfinite(amount) or amount < 0:
        raise InvalidEvent("amount", amount, "must be a finite number >= 0")
    return Order(
        event_id=event_id,
        correlation_id=correlation_id,
        order_id=order_id,
        customer_id=customer_id,
        sku=sku,
        quantity=quantity,
        amount=amount,
    )


def build_update(key: dict[str, str], fields: dict[str, Any]) -> dict[str, Any]:
    """Table.update_item arguments: SET every field and ADD 1 to write_count.

    write_count makes a second processing of the same event visible (it becomes 2), which
    is how the tests detect broken idempotency. Names go through placeholders because
    several (name, status, ...) are DynamoDB reserved words; floats become Decimal because
    the boto3 resource layer refuses floats.
    """
    names = {"#write_count": "write_count"}
    values: dict[str, Any] = {":one": 1}
    assignments = []
    for field, value in fields.items():
        names[f"#{field}"] = field
        values[f":{field}"] = Decimal(str(value)) if isinstance(value, float) else value
        assignments.append(f"#{field} = :{field}")
    return {
        "Key": key,
        "UpdateExpression": f"SET {', '.join(assignments)} ADD #write_count :one",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def order_update(order: Order, written_at: float) -> dict[str, Any]:
    """The write of one accepted order to a table keyed by order_id.

    ``written_at`` (epoch seconds, from the caller's clock) lets a benchmark measure
    publish-to-result latency exactly instead of polling for the item.
    """
    return build_update(
        {"order_id": order.order_id},
        {
            "customer_id": order.customer_id,
            "sku": order.sku,
            "quantity": order.quantity,
            "amount": order.amount,
            "event_id": order.event_id,
            "correlation_id": order.correlation_id,
            "written_at": written_at,
        },
    )
