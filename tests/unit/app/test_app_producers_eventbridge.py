"""put_events: validation, batching by count and size, retries of failed entries only."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from eda_app import (
    InvalidEventError,
    MessageTooLargeError,
    PutEventsError,
    put_events,
)
from eda_app.events import MAX_PUTEVENTS_BYTES
from eda_app.outputs import Outputs
from eda_app.producers import backoff_delay

BUS = "arn:aws:events:us-east-1:123456789012:event-bus/app-bus"


def order(n: int = 1, **overrides: Any) -> dict[str, Any]:
    event = {
        "event_type": "order_placed",
        "event_id": f"e{n}",
        "correlation_id": f"c{n}",
        "order_id": f"o{n}",
        "customer_id": "c1",
        "sku": "S",
        "quantity": 1,
        "amount": 9.5,
    }
    event.update(overrides)
    return event


Responder = Callable[[int, list[dict[str, Any]]], dict[str, Any]]


def all_ok(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"FailedEntryCount": 0, "Entries": [{"EventId": f"eb-{i}"} for i in range(len(entries))]}


class FakeEvents:
    """PutEvents double: ``responder(call_number, entries)`` decides each answer."""

    def __init__(self, responder: Responder = all_ok) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.responder = responder

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        entries = kwargs["Entries"]
        self.calls.append(entries)
        return self.responder(len(self.calls), entries)

    def event_ids(self, call: int) -> list[str]:
        return [json.loads(entry["Detail"])["event_id"] for entry in self.calls[call]]


def failing(codes: dict[str, str]) -> Responder:
    """Entries whose event id is in ``codes`` fail with that code on every call."""

    def respond(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for entry in entries:
            event_id = json.loads(entry["Detail"])["event_id"]
            if event_id in codes:
                results.append({"ErrorCode": codes[event_id], "ErrorMessage": "nope"})
            else:
                results.append({"EventId": f"eb-{event_id}"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    return respond


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --- EventBridge -------------------------------------------------------------------


def test_put_events_request_matches_the_eventbridge_api() -> None:
    client = boto3.client("events", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}]},
            {
                "Entries": [
                    {
                        "Source": "my.application",
                        "DetailType": "application.event",
                        "Detail": json.dumps(order(1), separators=(",", ":")),
                        "EventBusName": BUS,
                    }
                ]
            },
        )
        assert put_events([order(1)], bus_name=BUS, events_client=client) == ["e1"]
        stubber.assert_no_pending_responses()


def test_put_events_batches_by_ten() -> None:
    events = FakeEvents()
    ids = put_events([order(n) for n in range(23)], bus_name=BUS, events_client=events)

    assert [len(call) for call in events.calls] == [10, 10, 3]
    assert ids == [f"e{n}" for n in range(23)]
    assert [i for call in range(3) for i in events.event_ids(call)] == ids


def test_put_events_batches_by_size() -> None:
    events = FakeEvents()
    big = "x" * 400_000
    put_events([order(n, sku=big) for n in range(5)], bus_name=BUS, events_client=events)

    # Two ~400 KB entries fit under 1 MiB, a third does not.
    assert [len(call) for call in events.calls] == [2, 2, 1]


def test_put_events_bus_from_outputs() -> None:
    events = FakeEvents()
    put_events(
        [order(1)], events_client=events, outputs=Outputs({"buses": {"app-bus": {"arn": BUS}}})
    )
    assert events.calls[0][0]["EventBusName"] == BUS


def test_only_failed_entries_are_retried_with_backoff() -> None:
    attempts: dict[str, int] = {}

    def flaky(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for entry in entries:
            event_id = json.loads(entry["Detail"])["event_id"]
            attempts[event_id] = attempts.get(event_id, 0) + 1
            # e2 fails twice, e5 once, then both go through.
            limit = {"e2": 2, "e5": 1}.get(event_id, 0)
            if attempts[event_id] <= limit:
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"})
            else:
                results.append({"EventId": "ok"})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    events = FakeEvents(flaky)
    sleeps = Sleeps()
    ids = put_events(
        [order(n) for n in range(8)],
        bus_name=BUS,
        events_client=events,
        sleep=sleeps,
        base_delay=0.2,
    )

    assert ids == [f"e{n}" for n in range(8)]
    assert [events.event_ids(call) for call in range(3)] == [
        [f"e{n}" for n in range(8)],
        ["e2", "e5"],
        ["e2"],
    ]
    assert len(sleeps) == 2
    assert 0.1 <= sleeps[0] <= 0.2
    assert 0.2 <= sleeps[1] <= 0.4


def test_final_failure_raises_naming_entries_and_codes(caplog: pytest.LogCaptureFixture) -> None:
    events = FakeEvents(failing({"e1": "InternalFailure", "e3": "ThrottlingException"}))
    sleeps = Sleeps()

    with pytest.raises(PutEventsError) as caught:
        put_events(
            [order(n) for n in range(12)],
            bus_name=BUS,
            events_client=events,
            sleep=sleeps,
            max_attempts=3,
        )

    error = caught.value
    assert [(f.index, f.event_id, f.error_code) for f in error.failed] == [
        (1, "e1", "InternalFailure"),
        (3, "e3", "ThrottlingException"),
    ]
    assert error.sent_event_ids == [f"e{n}" for n in range(12) if n not in (1, 3)]
    assert "#1 event_id=e1: InternalFailure" in str(error)
    assert "2 of 12 EventBridge entries failed" in str(error)
    # First batch (10 entries): 3 calls; second batch (e10, e11): 1 call.
    assert [len(call) for call in events.calls] == [10, 2, 2, 2]
    assert len(sleeps) == 2
    assert any(record.levelno == logging.ERROR for record in caplog.records)


def test_permanent_errors_are_not_retried() -> None:
    events = FakeEvents(failing({"e0": "MalformedDetail"}))
    sleeps = Sleeps()
    with pytest.raises(PutEventsError) as caught:
        put_events([order(0), order(1)], bus_name=BUS, events_client=events, sleep=sleeps)

    assert [f.error_code for f in caught.value.failed] == ["MalformedDetail"]
    assert len(events.calls) == 1
    assert sleeps == []


def test_call_level_error_reports_the_unsent_batch_and_keeps_going() -> None:
    def second_call_breaks(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        if call == 2:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutEvents")
        return all_ok(call, entries)

    events = FakeEvents(second_call_breaks)
    with pytest.raises(PutEventsError) as caught:
        put_events([order(n) for n in range(25)], bus_name=BUS, events_client=events)

    assert [f.index for f in caught.value.failed] == list(range(10, 20))
    assert {f.error_code for f in caught.value.failed} == {"AccessDenied"}
    assert caught.value.sent_event_ids == [f"e{n}" for n in (*range(10), *range(20, 25))]


def test_oversized_entry_is_refused_before_any_call() -> None:
    events = FakeEvents()
    with pytest.raises(MessageTooLargeError, match=r"entry #1 .*over the 1048576-byte limit"):
        put_events(
            [order(0), order(1, sku="x" * MAX_PUTEVENTS_BYTES)],
            bus_name=BUS,
            events_client=events,
        )
    assert events.calls == []


def test_invalid_detail_is_named_by_index() -> None:
    events = FakeEvents()
    with pytest.raises(InvalidEventError) as caught:
        put_events([order(0), {"event_type": "nope"}], bus_name=BUS, events_client=events)
    assert caught.value.field == "details[1].event_type"
    assert events.calls == []


def test_generated_ids_are_returned_and_sent() -> None:
    events = FakeEvents()
    detail = order(1)
    del detail["event_id"]
    (event_id,) = put_events([detail], bus_name=BUS, events_client=events)

    assert uuid.UUID(event_id).version == 4
    assert events.event_ids(0) == [event_id]


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 0.1, 0.2), (3, 0.4, 0.8), (10, 2.5, 5.0)])
def test_backoff_is_exponential_and_capped(attempt: int, low: float, high: float) -> None:
    for _ in range(20):
        assert low <= backoff_delay(attempt, base_delay=0.2, max_delay=5.0) <= high
