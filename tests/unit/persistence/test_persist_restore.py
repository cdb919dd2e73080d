"""After a snapshot is put back: SQS's in-flight messages are visible again with their
receive counts, and EventBridge's provider can deliver to the restored rules' targets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from eda_sandbox.persistence import restore, snapshot

ACCOUNT, REGION = "000000000000", "us-east-1"


@pytest.fixture
def sqs_stores() -> Iterator[Any]:
    from localstack.services.sqs.models import sqs_stores

    sqs_stores.reset()
    yield sqs_stores
    sqs_stores.reset()


def test_in_flight_messages_come_back_visible_with_their_receive_counts(sqs_stores: Any) -> None:
    from localstack.services.sqs.models import StandardQueue

    queue = StandardQueue("q", REGION, ACCOUNT)
    sqs_stores[ACCOUNT][REGION].queues["q"] = queue
    for body in ("a", "b"):
        queue.put({"MessageId": body, "Body": body, "MD5OfBody": "0", "Attributes": {}})
    taken = queue.receive(num_messages=1, visibility_timeout=600).successful
    assert [m.message["Body"] for m in taken] == ["a"]

    saved = snapshot.encode(sqs_stores)
    sqs_stores.reset()
    loaded = snapshot.read_bytes(saved)
    restore.into(sqs_stores, loaded)
    restore.after_load("sqs", provider=None)

    back = sqs_stores[ACCOUNT][REGION].queues["q"]
    again = back.receive(num_messages=10, visibility_timeout=30).successful
    counts = {m.message["Body"]: m.receive_count for m in again}
    assert counts == {"a": 2, "b": 1}


def test_restored_rules_get_their_target_senders_back() -> None:
    from localstack.services.events.models import EventBus, Rule, events_stores
    from localstack.services.events.provider import EventsProvider

    events_stores.reset()
    try:
        bus = EventBus(name="bus", region=REGION, account_id=ACCOUNT)
        rule = Rule(
            name="r",
            region=REGION,
            account_id=ACCOUNT,
            event_bus_name="bus",
            event_pattern=json.dumps({"source": ["x"]}),
            targets={"t1": {"Id": "t1", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"}},
        )
        bus.rules["r"] = rule
        events_stores[ACCOUNT][REGION].event_buses["bus"] = bus
        provider = EventsProvider()
        restore.after_load("events", provider)
        assert f"{rule.arn}-t1" in provider._target_sender_store
        assert rule.arn in provider._rule_services_store
        assert bus.arn in provider._event_bus_services_store
    finally:
        events_stores.reset()
