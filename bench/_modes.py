"""What each path sends, in which shape (the benchmark's modes), and through which call.

    sns-sqs      publish order_placed -> EventTopic -> EventQueue -> order_consumer -> Orders
    sns-sqs-node publish user_signup -> EventTopic -> SignupQueue -> signup_consumer (Node.js,
                 Powertools for AWS Lambda TypeScript) -> Signups; the same publish also
                 reaches user_signup_handler and event_logger, as in the reference system
    eventbridge  put_events -> app-bus -> rule OrderPlaced -> order_placed_handler -> PlacedOrders
    fifo         publish_order -> OrderTopic.fifo -> OrderQueue.fifo -> order_fifo_consumer
                 -> OrderSequences (one item per customer, ``seqs`` in arrival order)

``burst`` sends every event at once (8 publishing threads; EventBridge in batches of 10),
``steady`` paces them at a rate against absolute due times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _common import BenchEvent, PathSpec, Unit

from eda_app.errors import PutEventsError
from eda_app.producers import publish_event, publish_order, put_events
from eda_sandbox.topology import Outputs

PATHS = ("sns-sqs", "eventbridge", "fifo", "sns-sqs-node")
MODES = ("burst", "steady")

SPECS = {
    "sns-sqs": PathSpec("sq", "Orders", "order_id", ("EventQueue-dlq",), "EventQueue"),
    "eventbridge": PathSpec(
        "eb",
        "PlacedOrders",
        "order_id",
        ("order_placed_handler-failures", "OrderPlaced-target-dlq"),
        None,
    ),
    "fifo": PathSpec(
        "ff", "OrderSequences", "customer_id", ("OrderQueue-dlq.fifo",), "OrderQueue.fifo"
    ),
    "sns-sqs-node": PathSpec("sn", "Signups", "user_id", ("SignupQueue-dlq",), "SignupQueue"),
}


def make_events(path: str, run: str, count: int, poison: float, groups: int) -> list[BenchEvent]:
    """``count`` orders; poison spread evenly (exactly round(count x poison) of them).

    FIFO: valid orders go round-robin over ``groups`` customers with per-customer seq 1,
    2, ...; each poison order gets a customer of its own. A poison order blocks its
    message group until it is dead-lettered (minutes), which would measure the redrive
    policy rather than the pipeline; the tests cover that blocking.
    """
    tag = SPECS[path].tag
    seqs: dict[str, int] = {}
    events = []
    for i in range(count):
        bad = int((i + 1) * poison) > int(i * poison)
        if path == "sns-sqs-node":
            events.append(_signup(run, tag, i, bad))
            continue
        body: dict[str, Any] = {
            "event_type": "order_placed",
            "event_id": f"bench-{run}-{tag}-e{i:05d}",
            "correlation_id": f"bench-{run}",
            "order_id": f"bench-{run}-{tag}-o{i:05d}",
            "customer_id": f"bench-{run}-{tag}-c{i % groups:03d}",
            "sku": "POISON" if bad else "SKU-1",
            "quantity": 1,
            "amount": 10,
        }
        if path == "fifo" and bad:
            body["customer_id"] = f"bench-{run}-{tag}-p{i:05d}"
        seq = seqs[body["customer_id"]] = seqs.get(body["customer_id"], 0) + 1
        if path == "fifo":
            body["seq"] = seq
        key = body["customer_id"] if path == "fifo" else body["order_id"]
        events.append(BenchEvent(i, body, key, bad, seq))
    return events


def _signup(run: str, tag: str, i: int, bad: bool) -> BenchEvent:
    """A user_signup; poison has an email without '@', which signup_consumer refuses
    (InvalidSignup) on every receive, so SignupQueue's redrive dead-letters it."""
    user = f"bench-{run}-{tag}-u{i:05d}"
    body = {
        "event_type": "user_signup",
        "event_id": f"bench-{run}-{tag}-e{i:05d}",
        "correlation_id": f"bench-{run}",
        "user_id": user,
        "email": "poison.example.com" if bad else f"u{i}@example.com",
        "name": "Bench",
    }
    return BenchEvent(i, body, user, bad, 1)


def make_units(path: str, events: list[BenchEvent], mode: str, rate: float) -> list[Unit]:
    if path == "eventbridge" and mode == "burst":
        # PutEvents takes 10 entries per call; a burst producer would use that.
        return [Unit(n, events[s : s + 10]) for n, s in enumerate(range(0, len(events), 10))]
    units = []
    for e in events:
        # FIFO: one customer, one lane, so each group is published in seq order.
        lane = int(e.key[-3:]) if path == "fifo" and not e.poison else e.index
        units.append(Unit(lane, [e], e.index / rate if mode == "steady" else 0.0))
    return units


def make_sender(path: str, out: Outputs, clients: dict[str, Any]) -> Callable[..., object]:
    if path in ("sns-sqs", "sns-sqs-node"):
        arn = out["topics"]["EventTopic"]["arn"]
        return lambda evs: publish_event(evs[0].body, topic_arn=arn, sns_client=clients["sns"])
    if path == "fifo":
        arn = out["topics"]["OrderTopic.fifo"]["arn"]
        return lambda evs: publish_order(evs[0].body, topic_arn=arn, sns_client=clients["sns"])
    bus = out["buses"]["app-bus"]["arn"]

    def send(evs: list[BenchEvent]) -> None:
        try:
            put_events([e.body for e in evs], bus_name=bus, events_client=clients["events"])
        except PutEventsError as e:
            # Only the entries EventBridge refused are unpublished; the rest went through.
            for failed in e.failed:
                evs[failed.index].publish_error = failed.error_code

    return send
