"""What order_placed_handler does with one EventBridge event, as pure functions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from eda_events.models import Order, parse_order


def parse_detail(detail: object) -> Order:
    """Validate the event's ``detail``: the order exactly as the producer put it."""
    return parse_order(detail)


def order_payload(order: Order) -> dict[str, Any]:
    """The validated order as the idempotent step's input (its event_id is the key)."""
    return asdict(order)
