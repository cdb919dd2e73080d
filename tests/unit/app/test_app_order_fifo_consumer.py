"""order_fifo_consumer: OrderQueue.fifo -> per-customer seqs, group-scoped failures."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

FUNCTION = "order_fifo_consumer"


@pytest.fixture
def consumer(load_handler: Any) -> Any:
    return load_handler(FUNCTION)


@pytest.fixture
def sequences(table: Any) -> Any:
    return table("SEQUENCES_TABLE")


def fifo_record(events: SimpleNamespace, customer: str, seq: int, **overrides: Any) -> Any:
    order_id = overrides.pop("order_id", f"{customer}-o{seq}")
    body = events.order(
        customer_id=customer,
        order_id=order_id,
        event_id=f"evt-{order_id}",
        correlation_id=f"corr-{order_id}",
        seq=seq,
        **overrides,
    )
    return events.sqs_record(body, f"m-{order_id}", group_id=customer, queue="OrderQueue.fifo")


def seqs(sequences: Any, customer: str) -> list[int] | None:
    item = sequences.get_item(Key={"customer_id": customer}).get("Item")
    return None if item is None else [int(s) for s in item["seqs"]]


def test_appends_seqs_in_batch_order(
    consumer: Any, sequences: Any, events: SimpleNamespace
) -> None:
    response = consumer(events.sqs_event(*(fifo_record(events, "c1", seq) for seq in (1, 2, 3))))

    assert response == {"batchItemFailures": []}
    item = sequences.get_item(Key={"customer_id": "c1"})["Item"]
    assert [int(s) for s in item["seqs"]] == [1, 2, 3]
    assert item["write_count"] == 3
    assert item["last_order_id"] == "c1-o3"
    assert item["correlation_id"] == "corr-c1-o3"


def test_failure_skips_only_its_own_group(
    consumer: Any, sequences: Any, events: SimpleNamespace
) -> None:
    event = events.sqs_event(
        fifo_record(events, "c1", 1),
        fifo_record(events, "c2", 1),
        fifo_record(events, "c1", 2, sku="POISON"),
        fifo_record(events, "c2", 2),
        fifo_record(events, "c1", 3),
        fifo_record(events, "c2", 3),
    )

    response = consumer(event)

    # c1-o3 is fine but must wait behind c1-o2, so it is returned unprocessed.
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m-c1-o2"}, {"itemIdentifier": "m-c1-o3"}]
    }
    assert seqs(sequences, "c1") == [1]
    assert seqs(sequences, "c2") == [1, 2, 3]
    errors = [line for line in consumer.log_lines() if line["level"] == "ERROR"]
    assert [(e["message_id"], e["field"], e["message_group_id"]) for e in errors] == [
        ("m-c1-o2", "sku", "c1")
    ]
    assert errors[0]["correlation_id"] == "corr-c1-o2"


def test_redelivery_after_partial_failure_does_not_repeat_processed_records(
    consumer: Any, sequences: Any, events: SimpleNamespace
) -> None:
    consumer(events.sqs_event(fifo_record(events, "c1", 1), fifo_record(events, "c1", 2)))
    # The same messages again (e.g. the whole batch redelivered after a timeout).
    response = consumer(
        events.sqs_event(
            fifo_record(events, "c1", 1), fifo_record(events, "c1", 2), fifo_record(events, "c1", 3)
        )
    )

    assert response == {"batchItemFailures": []}
    assert seqs(sequences, "c1") == [1, 2, 3]
    assert sequences.get_item(Key={"customer_id": "c1"})["Item"]["write_count"] == 3


@pytest.mark.parametrize("seq", [None, "1", -1, 1.5, True])
def test_missing_or_bad_seq_is_a_record_failure(
    consumer: Any, sequences: Any, events: SimpleNamespace, seq: Any
) -> None:
    record = fifo_record(events, "c1", 1)
    body = events.order(customer_id="c1", order_id="c1-o1", event_id="evt-x", correlation_id="k")
    if seq is not None:
        body["seq"] = seq
    record = events.sqs_record(body, "m-bad", group_id="c1", queue="OrderQueue.fifo")

    response = consumer(events.sqs_event(record))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert seqs(sequences, "c1") is None
    errors = [line for line in consumer.log_lines() if line["level"] == "ERROR"]
    assert errors[0]["field"] == "seq"


def test_every_record_failing_is_reported_not_raised(
    consumer: Any, events: SimpleNamespace
) -> None:
    response = consumer(
        events.sqs_event(
            fifo_record(events, "c1", 1, sku="POISON"), fifo_record(events, "c2", 1, sku="POISON")
        )
    )

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m-c1-o1"}, {"itemIdentifier": "m-c2-o1"}]
    }
