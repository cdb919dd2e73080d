"""The EventBridge tracing patch records each rule's decision as upstream makes it."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from eda_sandbox.journeys.model import HopKind
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.tracing.events import EventsInstrumentor
from eda_sandbox.testing import wait_until

PATTERN = {
    "source": ["my.application"],
    "detail": {"event_type": ["order_placed"], "amount": [{"numeric": [">=", 0]}]},
}


def _event(event_id: str, amount: int) -> dict[str, Any]:
    detail = {"event_type": "order_placed", "amount": amount, "correlation_id": event_id}
    return {"id": event_id, "source": "my.application", "detail": detail}


def test_a_rules_decision_is_upstreams_own_match(monkeypatch: pytest.MonkeyPatch) -> None:
    from localstack.services.events import provider
    from localstack.utils import event_matcher

    calls: list[str] = []
    original = provider.matches_event
    whole = json.dumps(PATTERN)

    def counting(pattern: str, event: dict[str, Any]) -> bool:
        if pattern == whole:  # the rule's pattern (a failed key is looked for with parts)
            calls.append(event["id"])
        return bool(original(pattern, event))

    # Both names: upstream's (the provider's import) and the matcher's own.
    monkeypatch.setattr(provider, "matches_event", counting)
    monkeypatch.setattr(event_matcher, "matches_event", counting)
    store = JourneyStore(10)
    instrumentor = EventsInstrumentor(store)
    instrumentor.instrument()
    try:
        # A rule without targets: upstream matches it, logs "no target" and returns.
        rule = SimpleNamespace(name="OrderPlaced", event_bus_name="app-bus", event_pattern=whole)
        rule.targets = {}
        events = provider.EventsProvider.__new__(provider.EventsProvider)
        for event in (_event("e1", 1), _event("e2", -1)):
            events._process_rules(rule, "us-east-1", "000000000000", event, None)
    finally:
        instrumentor.uninstrument()

    assert provider.matches_event is counting  # put back
    assert calls == ["e1", "e2"]  # one match per rule and event: upstream's, none of ours
    (matched,) = store.find("e1")[0].hops
    assert matched.kind == HopKind.RULE_MATCHED and matched.resource == "OrderPlaced"
    (missed,) = store.find("e2")[0].hops
    assert missed.kind == HopKind.RULE_NOT_MATCHED, missed
    assert missed.detail["failed_key"] == "detail.amount" and missed.detail["failed_value"] == "-1"


@pytest.fixture
def traced_events(traced_client: Any) -> tuple[Any, JourneyStore]:
    from localstack.services.events.provider import EventsProvider

    return traced_client("events", EventsInstrumentor, EventsProvider)  # type: ignore[no-any-return]


def test_an_event_is_in_flight_only_while_a_bus_has_rules_to_match(
    traced_events: tuple[Any, JourneyStore],
) -> None:
    client, store = traced_events
    suffix = uuid.uuid4().hex[:8]
    quiet, busy = f"quiet-{suffix}", f"busy-{suffix}"
    for bus in (quiet, busy):
        client.create_event_bus(Name=bus)
    client.put_rule(Name="Orders", EventBusName=busy, EventPattern=json.dumps(PATTERN))

    def put(bus: str) -> str:
        entry = {"Source": "my.application", "DetailType": "application.event"}
        entry |= {"Detail": json.dumps(_event("x", 1)["detail"]), "EventBusName": bus}
        return str(client.put_events(Entries=[entry])["Entries"][0]["EventId"])

    no_rules = store.find(put(quiet))[0]
    assert [h.kind for h in no_rules.hops] == [HopKind.PUT_EVENTS]
    assert no_rules.hops[0].opens == () and no_rules.settled  # nothing will match it

    event_id = put(busy)
    (put_hop,) = [h for h in store.find(event_id)[0].hops if h.kind == HopKind.PUT_EVENTS]
    assert put_hop.opens == (f"events:{event_id}",)  # until the rules' worker is done
    settled = wait_until(
        lambda: store.find(event_id)[0].settled, timeout=10, description="rules matched"
    )
    assert settled
    kinds = [h.kind for h in store.find(event_id)[0].hops]
    assert HopKind.RULE_MATCHED in kinds, kinds


def test_the_entries_of_one_put_events_are_journeys_of_their_own(
    traced_events: tuple[Any, JourneyStore],
) -> None:
    client, store = traced_events
    bus = f"batch-{uuid.uuid4().hex[:8]}"
    client.create_event_bus(Name=bus)
    client.put_rule(Name="Orders", EventBusName=bus, EventPattern=json.dumps(PATTERN))
    entries = [
        {"Source": "my.application", "DetailType": "application.event", "EventBusName": bus}
        | {"Detail": json.dumps(_event(f"o{n}", n)["detail"])}
        for n in range(3)
    ]
    ids = [e["EventId"] for e in client.put_events(Entries=entries)["Entries"]]

    def journeys() -> list[Any]:
        return [store.find(event_id)[0] for event_id in ids]

    assert wait_until(
        lambda: all(j.settled for j in journeys()), timeout=10, description="rules matched"
    )
    found = journeys()
    assert len({j.id for j in found}) == 3, [j.id for j in found]  # one journey per entry
    for event_id, journey in zip(ids, found, strict=True):
        kinds = sorted(str(h.kind) for h in journey.hops)
        assert kinds == [HopKind.PUT_EVENTS, HopKind.RULE_MATCHED], (event_id, kinds)
        assert journey.hops[0].detail["event_id"] == event_id
    (trace,) = {j.trace_id for j in found}  # one request, one trace, as on AWS
    assert trace and len(store.find(trace)) == 3
