"""What order_fifo_consumer does with one FIFO SQS record, as pure functions (no AWS calls)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eda_events.models import Order, load_json_object, parse_order, require_int


@dataclass(frozen=True)
class SequencedOrder:
    order: Order
    seq: int


def parse_sequenced_order(body: str) -> SequencedOrder:
    """An order from OrderQueue.fifo: the order schema plus its per-customer ``seq``."""
    data = load_json_object(body)
    order = parse_order(data)
    return SequencedOrder(order=order, seq=require_int(data, "seq", 0))


def sequence_update(item: SequencedOrder, written_at: float) -> dict[str, Any]:
    """Append ``seq`` to the customer's ``seqs`` list in SEQUENCES_TABLE (key customer_id).

    The list records the order in which this consumer saw the customer's orders, so
    FIFO ordering (and any duplicate: the same seq twice) is visible in one item.
    ``written_at`` gets the write time (epoch seconds) at the same index as ``seqs``.
    """
    order = item.order
    return {
        "Key": {"customer_id": order.customer_id},
        "UpdateExpression": (
            "SET #seqs = list_append(if_not_exists(#seqs, :empty), :seq),"
            " #written_at = list_append(if_not_exists(#written_at, :empty), :written_at),"
            " #last_order_id = :last_order_id, #event_id = :event_id,"
            " #correlation_id = :correlation_id"
            " ADD #write_count :one"
        ),
        "ExpressionAttributeNames": {
            "#seqs": "seqs",
            "#written_at": "written_at",
            "#last_order_id": "last_order_id",
            "#event_id": "event_id",
            "#correlation_id": "correlation_id",
            "#write_count": "write_count",
        },
        "ExpressionAttributeValues": {
            ":empty": [],
            ":seq": [item.seq],
            ":written_at": [Decimal(str(written_at))],
            ":last_order_id": order.order_id,
            ":event_id": order.event_id,
            ":correlation_id": order.correlation_id,
            ":one": 1,
        },
    }
