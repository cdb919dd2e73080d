"""What order_placed_handler does with one EventBridge event, as pure functions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from models import Order, build_update, parse_order


def parse_detail(detail: object) -> Order:
    """Validate the event's ``detail``: the order exactly as the producer put it."""
    return parse_order(detail)


def order_payload(order: Order) -> dict[str, Any]:
    """The validated order as the idempotent step's input (its event_id is the key)."""
    return asdict(order)


def placed_order_update(order: Order, written_at: float) -> dict[str, Any]:
    """The PLACED_ORDERS_TABLE write for one accepted order (key order_id), stamped with
    ``written_at`` (epoch seconds) for exact latency measurements."""
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
