"""What order_consumer does with one SQS record, as pure functions (no AWS calls)."""

from __future__ import annotations

from eda_events.models import Order, load_json_object, parse_order


def parse_order_body(body: str) -> Order:
    """Validate the raw order JSON that SNS raw delivery put in the SQS body."""
    return parse_order(load_json_object(body))
