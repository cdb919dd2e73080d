"""SNS EventTopic -> (filter order_placed, raw) EventQueue -> order_consumer -> Orders."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eda_app import publish_event
from eda_sandbox.testing import AwsClients

BATCH = 20


def test_a_burst_of_orders_is_processed_exactly_once(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    events = [e2e.order(correlation_id, n, quantity=n + 1, amount=n * 1.5) for n in range(BATCH)]
    topic = e2e.topic_arn("EventTopic")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda e: publish_event(e, topic_arn=topic, sns_client=aws.sns), events))

    items = e2e.wait_for_items("Orders", "order_id", [e["order_id"] for e in events])

    wrong = {}
    for event in events:
        item = dict(items[event["order_id"]])
        if not item.pop("written_at", 0) > 0:  # the handler's write stamp (epoch seconds)
            wrong[event["order_id"]] = {"expected": "a written_at stamp", "seen": item}
        expected = {
            "order_id": event["order_id"],
            "customer_id": event["customer_id"],
            "sku": "SKU-1",
            "quantity": event["quantity"],
            "amount": event["amount"],
            "event_id": event["event_id"],
            "correlation_id": correlation_id,
            "write_count": 1,
        }
        if item != expected:
            wrong[event["order_id"]] = {"expected": expected, "seen": item}
    assert not wrong, f"{len(wrong)} of {BATCH} Orders items differ: {wrong}"
