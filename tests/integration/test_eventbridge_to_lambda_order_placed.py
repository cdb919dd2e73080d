"""EventBridge app-bus -> rule OrderPlaced -> order_placed_handler (async) -> PlacedOrders.

Pattern operators are checked with private rules on the real bus (events_listener): each
must receive exactly the events it matches. A miss is proven by a control event matching
every rule, put on the bus in a later call: once a rule has delivered the control, it
has delivered everything it matched from the earlier call.
"""

from __future__ import annotations

import json
from typing import Any

from eda_app import put_events
from eda_sandbox.testing import AwsClients, wait_until

BASE = {"source": ["my.application"], "detail-type": ["application.event"]}


def _put(e2e: Any, aws: AwsClients, events: list[dict[str, Any]]) -> None:
    put_events(events, bus_name=e2e.topology["buses"]["app-bus"]["arn"], events_client=aws.events)


def _collect(aws: AwsClients, queue_url: str, expected: set[str], timeout: float = 10) -> set:
    """Event ids delivered to a private listener queue, until ``expected`` are all in."""
    seen: set[str] = set()

    def poll() -> set[str] | None:
        messages = aws.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for m in messages:
            seen.add(json.loads(m["Body"])["detail"]["event_id"])
            aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        return seen if expected <= seen else None

    wait_until(
        poll,
        timeout=timeout,
        description=f"events {sorted(expected)} on {queue_url}",
        describe_last=lambda _v: f"seen so far: {sorted(seen)}",
    )
    return seen


def test_pattern_operators_match_and_miss(
    e2e: Any, aws: AwsClients, correlation_id: str, events_listener: Any
) -> None:
    bus = e2e.topology["buses"]["app-bus"]["name"]
    mine = {"correlation_id": [correlation_id]}  # scope every rule to this test's events
    blocked = f"{correlation_id}-blocked"
    patterns = {
        "prefix": {**BASE, "detail": {**mine, "sku": [{"prefix": "SKU-"}]}},
        "numeric": {**BASE, "detail": {**mine, "amount": [{"numeric": [">", 10, "<=", 100]}]}},
        "anything-but": {**BASE, "detail": {**mine, "customer_id": [{"anything-but": [blocked]}]}},
        "exists": {**BASE, "detail": {**mine, "coupon": [{"exists": True}]}},
    }
    listeners = {name: events_listener(bus, p) for name, p in patterns.items()}

    def ev(n: int, **fields: Any) -> dict[str, Any]:
        return e2e.order(correlation_id, n, **fields)

    events = {
        "all": ev(1, sku="SKU-1", amount=50, coupon="C10"),
        "none": ev(2, sku="XYZ-1", amount=5, customer_id=blocked),
        "edge": ev(3, sku="SKU-2", amount=100, customer_id=blocked),  # <= 100 is in
        "near": ev(4, sku="XSKU-3", amount=10),  # prefix is anchored; > 10 excludes 10
    }
    expected = {
        "prefix": {"all", "edge"},
        "numeric": {"all", "edge"},
        "anything-but": {"all", "near"},
        "exists": {"all"},
    }
    _put(e2e, aws, list(events.values()))
    control = ev(9, sku="SKU-9", amount=99, coupon="C")
    _put(e2e, aws, [control])

    wrong = {}
    for name, listener in listeners.items():
        want = {events[k]["event_id"] for k in expected[name]} | {control["event_id"]}
        seen = _collect(aws, listener.queue_url, want)
        if seen != want:
            names = {v["event_id"]: k for k, v in events.items()}
            wrong[name] = {
                "expected": sorted(names.get(i, "control") for i in want),
                "seen": sorted(names.get(i, "control") for i in seen),
            }
    assert not wrong, f"rules matched the wrong events: {wrong}"


def test_order_placed_rule_stores_the_order_and_a_listener_sees_it(
    e2e: Any, aws: AwsClients, correlation_id: str, events_listener: Any
) -> None:
    bus = e2e.topology["buses"]["app-bus"]["name"]
    rule = e2e.topology["rules"]["OrderPlaced"]["name"]
    # The listener uses the REAL rule's pattern, read from EventBridge.
    real_pattern = json.loads(aws.events.describe_rule(Name=rule, EventBusName=bus)["EventPattern"])
    listener = events_listener(
        bus,
        {**real_pattern, "detail": {**real_pattern["detail"], "correlation_id": [correlation_id]}},
    )

    miss = e2e.order(correlation_id, 1, amount=-5)  # numeric >= 0 excludes it
    hit = e2e.order(correlation_id, 2, amount=12.5)
    _put(e2e, aws, [miss])
    _put(e2e, aws, [hit])

    event = listener.wait_for(lambda e: e.get("detail", {}).get("event_id") == hit["event_id"])
    assert event["source"] == "my.application" and event["detail"] == hit, event

    item = e2e.wait_for_item("PlacedOrders", {"order_id": hit["order_id"]})
    assert item.pop("written_at") > 0, item  # the handler's write stamp (epoch seconds)
    expected = {
        "order_id": hit["order_id"],
        "customer_id": hit["customer_id"],
        "sku": hit["sku"],
        "quantity": hit["quantity"],
        "amount": 12.5,
        "event_id": hit["event_id"],
        "correlation_id": correlation_id,
        "write_count": 1,
    }
    assert item == expected, f"PlacedOrders: expected {expected}, got {item}"

    # The control (hit) went through the rule after the miss was put; the miss left no
    # trace in the function or the table, and the listener never saw it.
    handled = [
        r
        for r in e2e.log_records("order_placed_handler", correlation_id)
        if r.get("correlation_id") == correlation_id
    ]
    assert all(miss["event_id"] not in json.dumps(r) for r in handled), handled
    assert e2e.get_item("PlacedOrders", {"order_id": miss["order_id"]}) is None
    assert all(e.get("detail", {}).get("event_id") != miss["event_id"] for e in listener.seen)


def test_failing_target_ends_in_on_failure_destination(
    e2e: Any, aws: AwsClients, correlation_id: str, receive_until: Any
) -> None:
    poison = e2e.order(correlation_id, sku="POISON")
    _put(e2e, aws, [poison])

    failures = e2e.queue_url("order_placed_handler-failures")
    record = receive_until(failures, match=correlation_id, timeout=20)[0].parsed
    context = record["requestContext"]
    assert context["condition"] == "RetriesExhausted", f"destination record: {record}"
    assert context["approximateInvokeCount"] == 2, (
        f"expected 2 invocations (1 + maximum_retry_attempts 1); destination record: {record}"
    )
    assert context["functionArn"].split(":")[6] == e2e.function("order_placed_handler")
    payload = record["requestPayload"]
    assert payload["detail"] == poison and payload["source"] == "my.application", payload
    assert "poison SKU" in json.dumps(record["responsePayload"]), record["responsePayload"]
    assert e2e.get_item("PlacedOrders", {"order_id": poison["order_id"]}) is None
