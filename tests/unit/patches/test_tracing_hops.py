"""Which deliveries and async successes get a hop of their own, and which only close
what was in flight (their next hop, or the invocation's own, already shows them)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from eda_sandbox.journeys.model import Hop, HopKind
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.tracing.awslambda import LambdaInstrumentor
from eda_sandbox.patches.tracing.base import thread_value
from eda_sandbox.patches.tracing.sns import SnsInstrumentor

TOPIC = "arn:aws:sns:eu-west-1:000000000000:EventTopic"


def _opened(store: JourneyStore, key: str, token: str) -> None:
    hop = Hop(kind=HopKind.FILTER_MATCHED, at=1.0, resource="x", opens=(token,))
    store.record(hop, keys=[key], new=True)


@pytest.mark.parametrize(
    ("protocol", "endpoint", "delivery_hop"),
    [
        ("sqs", "arn:aws:sqs:eu-west-1:000000000000:EventQueue", False),
        ("lambda", "arn:aws:lambda:eu-west-1:000000000000:function:event_logger", False),
        ("http", "http://127.0.0.1:9/hook", True),
    ],
)
def test_only_deliveries_without_a_next_hop_get_one(
    protocol: str, endpoint: str, delivery_hop: bool
) -> None:
    store = JourneyStore(10)
    subscriber = {"Protocol": protocol, "Endpoint": endpoint, "SubscriptionArn": f"{TOPIC}:s1"}
    _opened(store, "m1", f"sns:m1:{TOPIC}:s1")
    context = SimpleNamespace(message=SimpleNamespace(message_id="m1"), request_headers=None)
    delivered: list[Any] = []

    SnsInstrumentor(store)._patched_topic_publisher_publish(
        lambda *a, **k: delivered.append(a), None, (context, subscriber), {}
    )

    (journey,) = store.find("m1")
    assert delivered and journey.settled, journey  # delivered, and nothing left in flight
    kinds = [h.kind for h in journey.hops]
    assert (HopKind.DELIVERED in kinds) is delivery_hop, kinds


def test_a_batch_delivery_names_its_messages_in_order_and_settles_each() -> None:
    store = JourneyStore(10)
    queue = "arn:aws:sqs:eu-west-1:000000000000:EventQueue"
    subscriber = {"Protocol": "sqs", "Endpoint": queue, "SubscriptionArn": f"{TOPIC}:s1"}
    for key in ("m1", "m2"):
        _opened(store, key, f"sns:{key}:{TOPIC}:s1")
    messages = [SimpleNamespace(message_id=key) for key in ("m1", "m2")]
    context = SimpleNamespace(messages=messages, request_headers=None)  # no .message
    seen: list[Any] = []

    SnsInstrumentor(store)._patched_topic_publisher_publish(
        lambda *a, **k: seen.append(thread_value("sns_batch_ids")), None, (context, subscriber), {}
    )

    assert seen == [("m1", "m2")] and thread_value("sns_batch_ids") == ()  # for the SQS hops
    for key in ("m1", "m2"):
        (journey,) = store.find(key)
        assert journey.settled and len(journey.hops) == 1, journey  # closed, no hop of its own


@pytest.mark.parametrize("destination", [None, "arn:aws:sqs:eu-west-1:000000000000:ok"])
def test_an_async_success_gets_a_hop_only_with_a_destination(destination: str | None) -> None:
    store = JourneyStore(10)
    _opened(store, "r1", "async:r1")
    invocation = SimpleNamespace(invocation=SimpleNamespace(request_id="r1"), retries=1)
    on_success = {"OnSuccess": {"Destination": destination}} if destination else {}
    config = SimpleNamespace(destination_config=on_success)
    poller = SimpleNamespace(
        version_manager=SimpleNamespace(
            function_version=SimpleNamespace(id=SimpleNamespace(function_name="f"))
        )
    )

    LambdaInstrumentor(store)._patched_process_success_destination(
        lambda *a, **k: None, poller, (invocation, {}, config), {}
    )

    (journey,) = store.find("r1")
    assert journey.settled, journey
    succeeded = [h for h in journey.hops if h.kind == HopKind.ASYNC_SUCCEEDED]
    if destination is None:
        assert succeeded == []
    else:
        (hop,) = succeeded
        assert hop.detail["attempts"] == 2 and hop.detail["destination_arn"] == destination
