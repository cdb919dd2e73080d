"""The journey store: linking hops by any id, the ring bound, in-flight tokens."""

from __future__ import annotations

from eda_sandbox.journeys.model import Hop, HopKind, Journey
from eda_sandbox.journeys.store import JourneyStore


def _hop(kind: HopKind = HopKind.ENQUEUED, at: float = 1.0, **kw: object) -> Hop:
    return Hop(kind=kind, at=at, resource="EventQueue", **kw)  # type: ignore[arg-type]


def test_hops_with_any_shared_id_join_one_journey() -> None:
    store = JourneyStore(10)
    first = store.record(_hop(HopKind.PUBLISHED), keys=["sns-1"], trace_id="1-a-b")
    second = store.record(_hop(at=2.0), keys=["sqs-1", "sns-1"])
    third = store.record(_hop(HopKind.RECEIVED, at=3.0), keys=["sqs-1"], new=False)
    assert first == second == third == "1-a-b"
    (journey,) = store.find("sqs-1")
    assert [h.kind for h in journey.ordered()] == [
        HopKind.PUBLISHED,
        HopKind.ENQUEUED,
        HopKind.RECEIVED,
    ]
    assert store.find("1-a-b")[0].id == journey.id
    # Nothing known and new=False: not recorded at all (Lambda's internal queues).
    assert store.record(_hop(), keys=["unknown"], new=False) is None
    assert store.find("unknown") == []


def test_a_correlation_id_finds_every_journey_that_carries_it() -> None:
    store = JourneyStore(10)
    store.record(_hop(), keys=["m1"], correlation_ids=["c"], new=True)
    store.record(_hop(at=5.0), keys=["m2"], correlation_ids=["c"], new=True)
    found = store.find("c")
    assert len(found) == 2 and {k for j in found for k in j.keys} == {"m1", "m2"}


def test_events_of_one_request_share_its_trace_but_not_a_journey() -> None:
    store = JourneyStore(2)
    first = store.record(_hop(HopKind.PUT_EVENTS), keys=["e1"], trace_id="1-a-b")
    second = store.record(_hop(HopKind.PUT_EVENTS), keys=["e2"], trace_id="1-a-b", join_trace=False)
    assert first == "1-a-b" and second not in (None, first)
    # A later hop of the second event finds its own journey by its id, not the trace's.
    store.record(_hop(HopKind.RULE_MATCHED), keys=["e2"], trace_id="1-a-b", join_trace=False)
    assert [len(j.hops) for j in store.find("1-a-b")] == [1, 2]
    assert {j.trace_id for j in store.find("1-a-b")} == {"1-a-b"}
    # Leaving the ring takes a journey out of its trace's index too.
    store.record(_hop(), keys=["m9"], new=True)
    assert [j.id for j in store.find("1-a-b")] == [second]


def test_the_ring_keeps_the_last_n_journeys_and_forgets_their_ids() -> None:
    store = JourneyStore(2)
    for n in range(3):
        store.record(_hop(), keys=[f"m{n}"], correlation_ids=[f"c{n}"])
    assert len(store) == 2
    assert store.find("m0") == [] and store.find("c0") == [] and not store.knows("m0")
    assert [j.keys for j in store.last(5)] == [{"m2"}, {"m1"}]


def test_a_journey_is_in_flight_until_its_tokens_close() -> None:
    store = JourneyStore(10)
    store.record(_hop(opens=("sqs:m1",)), keys=["m1"])
    assert not store.find("m1")[0].settled
    store.record(_hop(HopKind.DELETED, closes=("sqs:m1",)), keys=["m1"])
    assert store.find("m1")[0].settled
    store.record(_hop(opens=("events:e",)), keys=["m1"])
    store.close("m1", ["events:e"])
    assert store.find("m1")[0].settled
    # A close recorded before its open (another thread was quicker) still settles.
    store.close("m1", ["late"])
    store.record(_hop(opens=("late",)), keys=["m1"])
    assert store.find("m1")[0].settled


def test_updated_since_returns_only_what_changed() -> None:
    store = JourneyStore(10)
    store.record(_hop(), keys=["a"])
    seq = store.seq
    store.record(_hop(), keys=["b"])
    store.record(_hop(at=2.0), keys=["b"])
    next_seq, changed = store.updated_since(seq)
    assert [j.keys for j in changed] == [{"b"}] and next_seq == store.seq
    assert store.updated_since(next_seq)[1] == []


def test_hops_per_journey_are_bounded_and_counted() -> None:
    store = JourneyStore(10, max_hops=3)
    for n in range(5):
        store.record(_hop(at=float(n)), keys=["loop"])
    (journey,) = store.find("loop")
    assert len(journey.hops) == 3 and journey.dropped_hops == 2


def test_a_journey_survives_its_json_form() -> None:
    store = JourneyStore(10)
    store.record(
        _hop(failed=True, reason="why", detail={"receive_count": 3}, opens=("x",)),
        keys=["m"],
        correlation_ids=["c"],
        trace_id="1-a-b",
    )
    (journey,) = store.find("m")
    again = Journey.from_json(journey.to_json())
    assert again.to_json() == journey.to_json()
    assert again.failed and not again.settled
