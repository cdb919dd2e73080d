"""order_consumer: SQS EventQueue batches -> ORDERS_TABLE, partial failures, idempotency."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

FUNCTION = "order_consumer"


@pytest.fixture
def consumer(load_handler: Any) -> Any:
    return load_handler(FUNCTION)


@pytest.fixture
def orders(table: Any) -> Any:
    return table("ORDERS_TABLE")


def test_valid_record_is_stored_with_write_count_1(
    consumer: Any, orders: Any, events: SimpleNamespace
) -> None:
    response = consumer(events.sqs_event(events.sqs_record(events.order(), "m1")))

    assert response == {"batchItemFailures": []}
    before = time.time()
    item = orders.get_item(Key={"order_id": "o1"})["Item"]
    # The handler stamps its write time (benchmarks measure latency from it).
    assert before - 60 < float(item.pop("written_at")) <= before
    assert item == {
        "order_id": "o1",
        "customer_id": "c1",
        "sku": "SKU-1",
        "quantity": 2,
        "amount": Decimal("9.5"),
        "event_id": "evt-o1",
        "correlation_id": "corr-o1",
        "write_count": 1,
    }


def test_same_event_twice_writes_once(consumer: Any, orders: Any, events: SimpleNamespace) -> None:
    body = events.order()
    # Second delivery arrives as a different SQS message (e.g. re-published): same event id.
    consumer(events.sqs_event(events.sqs_record(body, "m1")))
    second = consumer(events.sqs_event(events.sqs_record(body, "m2")))

    assert second == {"batchItemFailures": []}
    assert orders.get_item(Key={"order_id": "o1"})["Item"]["write_count"] == 1
    assert any(line["message"] == "duplicate order skipped" for line in consumer.log_lines())


def test_duplicate_inside_one_batch_writes_once(
    consumer: Any, orders: Any, events: SimpleNamespace
) -> None:
    body = events.order()
    response = consumer(
        events.sqs_event(events.sqs_record(body, "m1"), events.sqs_record(body, "m2"))
    )

    assert response == {"batchItemFailures": []}
    assert orders.get_item(Key={"order_id": "o1"})["Item"]["write_count"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json at all", "body"),
        ("[1, 2]", "body"),
        (json.dumps({"event_type": "order_placed"}), "event_id"),
        ("POISON", "sku"),
        ("quantity0", "quantity"),
        ("amount-str", "amount"),
    ],
)
def test_partial_batch_lists_exactly_the_bad_message(
    consumer: Any, orders: Any, events: SimpleNamespace, body: str, field: str
) -> None:
    bad_bodies = {
        "POISON": events.order(order_id="o-bad", event_id="evt-bad", sku="POISON"),
        "quantity0": events.order(order_id="o-bad", event_id="evt-bad", quantity=0),
        "amount-str": events.order(order_id="o-bad", event_id="evt-bad", amount="9.5"),
    }
    bad = bad_bodies.get(body, body)
    event = events.sqs_event(
        events.sqs_record(events.order(order_id="o1", event_id="e1"), "good-1"),
        events.sqs_record(bad, "bad-1", attributes={"correlation_id": "corr-from-attribute"}),
        events.sqs_record(events.order(order_id="o2", event_id="e2"), "good-2"),
    )

    response = consumer(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    assert orders.get_item(Key={"order_id": "o1"})["Item"]["write_count"] == 1
    assert orders.get_item(Key={"order_id": "o2"})["Item"]["write_count"] == 1
    assert "Item" not in orders.get_item(Key={"order_id": "o-bad"})
    errors = [line for line in consumer.log_lines() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["message_id"] == "bad-1"
    assert errors[0]["field"] == field
    assert errors[0]["reason"].startswith(f"{field}=")
    # From the body when it has one, else from the SNS attribute raw delivery copied over.
    expected_correlation = bad["correlation_id"] if isinstance(bad, dict) else "corr-from-attribute"
    assert errors[0]["correlation_id"] == expected_correlation


def test_every_record_failing_is_reported_not_raised(
    consumer: Any, events: SimpleNamespace
) -> None:
    response = consumer(
        events.sqs_event(events.sqs_record("x", "bad-1"), events.sqs_record("y", "bad-2"))
    )

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "bad-1"}, {"itemIdentifier": "bad-2"}]
    }


def test_rejected_record_is_retried_not_remembered(
    consumer: Any, orders: Any, events: SimpleNamespace
) -> None:
    # A failure must not be stored as the event's idempotent result, or a fixed
    # redelivery would be skipped as a duplicate.
    bad = events.order(sku="POISON")
    assert consumer(events.sqs_event(events.sqs_record(bad, "m1"))) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
    consumer(events.sqs_event(events.sqs_record(events.order(), "m1")))

    assert orders.get_item(Key={"order_id": "o1"})["Item"]["write_count"] == 1


def test_log_lines_carry_the_correlation_id(consumer: Any, events: SimpleNamespace) -> None:
    consumer(events.sqs_event(events.sqs_record(events.order(correlation_id="corr-xyz"), "m1")))

    stored = [line for line in consumer.log_lines() if line["message"] == "order stored"]
    assert len(stored) == 1
    assert stored[0]["correlation_id"] == "corr-xyz"
    assert stored[0]["service"] == FUNCTION


def test_metrics_count_processed_and_rejected(
    consumer: Any, events: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    consumer(
        events.sqs_event(
            events.sqs_record(events.order(), "m1"),
            events.sqs_record(events.order(order_id="o9", event_id="e9", sku="POISON"), "m2"),
        )
    )

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert len(emf) == 1
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "EdaSandbox"
    assert emf[0]["EventsProcessed"] == [1.0]
    assert emf[0]["EventsRejected"] == [1.0]
