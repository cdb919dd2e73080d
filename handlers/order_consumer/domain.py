"""What order_consumer does with one SQS record, as pure functions (no AWS calls)."""

from __future__ import annotations

from typing import Any

from models import Order, build_update, load_json_object, parse_order, peek_ids


def parse_order_body(body: str) -> Order:
    """Validate the raw order JSON that SNS raw delivery put in the SQS body."""
    return parse_order(load_json_object(body))


def idempotency_key(body: str, message_id: str) -> str:
    """The event id when the body carries one, else the SQS message id.

    The event id survives re-publishing (a new SQS message id), so it is the better key;
    the message id still gives an unparseable body a per-message key.
    """
    event_id, _ = peek_ids(body)
    return event_id if event_id is not None else message_id


def order_update(order: Order, written_at: float) -> dict[str, Any]:
    """The ORDERS_TABLE write for one accepted order (key order_id).

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
