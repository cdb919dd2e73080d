"""SNS OrderTopic.fifo -> OrderQueue.fifo -> order_fifo_consumer -> OrderSequences.

Message group = customer_id. OrderSequences.seqs lists the seq numbers in the order the
consumer applied them, so both reordering and duplicates show in one item.
"""

from __future__ import annotations

from typing import Any

from eda_app import publish_order
from eda_sandbox.errors import WaitTimeoutError
from eda_sandbox.testing import AwsClients, wait_until

CUSTOMERS = 4
PER_CUSTOMER = 5


def _fifo_order(e2e: Any, correlation_id: str, customer: int, seq: int, **fields: Any) -> dict:
    return e2e.order(
        correlation_id,
        customer * 100 + seq,
        customer_id=f"{correlation_id}-cust-{customer}",
        seq=seq,
        **fields,
    )


def _publish_interleaved(e2e: Any, aws: AwsClients, orders: list[list[dict]]) -> None:
    """seq 1 of every customer, then seq 2 of every customer, ...: groups interleave."""
    topic = e2e.topic_arn("OrderTopic.fifo")
    for round_ in zip(*orders, strict=True):
        for order in round_:
            publish_order(order, topic_arn=topic, sns_client=aws.sns)


def test_each_customer_sees_its_orders_in_sequence(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    orders = [
        [_fifo_order(e2e, correlation_id, c, s) for s in range(1, PER_CUSTOMER + 1)]
        for c in range(CUSTOMERS)
    ]
    _publish_interleaved(e2e, aws, orders)

    customers = [group[0]["customer_id"] for group in orders]
    expected = list(range(1, PER_CUSTOMER + 1))
    items = {
        c: e2e.wait_for_item(
            "OrderSequences",
            {"customer_id": c},
            timeout=20,
            # write_count is bumped last in each update: N means N updates are complete
            ready=lambda i: i["write_count"] >= PER_CUSTOMER,
        )
        for c in customers
    }
    wrong = {
        c: {"seqs": item["seqs"], "write_count": item["write_count"]}
        for c, item in items.items()
        if item["seqs"] != expected or item["write_count"] != PER_CUSTOMER
    }
    assert not wrong, f"every customer should have seqs {expected} written once each: {wrong}"


def test_poison_blocks_only_its_group_then_goes_to_the_fifo_dlq(
    e2e: Any, aws: AwsClients, correlation_id: str, receive_until: Any
) -> None:
    poisoned, healthy = 0, [1, 2, 3]
    orders = [
        [
            _fifo_order(
                e2e, correlation_id, c, s, **({"sku": "POISON"} if (c, s) == (0, 2) else {})
            )
            for s in (1, 2, 3)
        ]
        for c in [poisoned, *healthy]
    ]
    _publish_interleaved(e2e, aws, orders)
    blocked_customer = orders[0][0]["customer_id"]

    # The other groups complete, in order, while the poison is still being retried.
    for group in orders[1:]:
        item = e2e.wait_for_item(
            "OrderSequences",
            {"customer_id": group[0]["customer_id"]},
            timeout=20,
            ready=lambda i: i["write_count"] >= 3,
        )
        assert item["seqs"] == [1, 2, 3], f"healthy group out of order or duplicated: {item}"
    blocked = e2e.wait_for_item(
        "OrderSequences", {"customer_id": blocked_customer}, ready=lambda i: bool(i["seqs"])
    )
    assert blocked["seqs"] == [1], (
        f"{blocked_customer}: seq 1 applied, then blocked at the poison seq 2 "
        f"(seq 3 must not overtake it); item: {blocked}"
    )

    # The poison is dead-lettered unchanged after maxReceiveCount receives.
    poison, behind = orders[0][1], orders[0][2]
    dlq = e2e.queue_url("OrderQueue-dlq.fifo")
    dead = receive_until(
        dlq,
        count=1,
        match=lambda m: m.parsed.get("order_id") == poison["order_id"],
        timeout=e2e.dlq_timeout("OrderQueue.fifo"),
    )[0]
    assert dead.parsed == poison, f"the DLQ must hold the poison unchanged: {dead.body}"
    assert dead.attributes.get("MessageGroupId") == blocked_customer, dead.attributes
    assert dead.receive_count >= 3, f"dead-lettered after 3 receives: {dead.attributes}"

    # skip_group_on_error reports seq 3 failed with the poison whenever they come in one
    # batch. If that was every time, it shares the poison's receive count and follows it
    # into the DLQ; otherwise it is applied once the poison has left. Either way it never
    # overtakes seq 2, and the poison itself is never applied.
    def seq3_outcome() -> str | None:
        item = e2e.get_item("OrderSequences", {"customer_id": blocked_customer})
        if item is not None and item.get("seqs") == [1, 3]:
            return "applied after the poison left"
        try:
            receive_until(
                dlq, match=lambda m: m.parsed.get("order_id") == behind["order_id"], timeout=0.5
            )
        except WaitTimeoutError:
            return None
        return "dead-lettered with the poison"

    outcome = wait_until(
        seq3_outcome, timeout=30, description="seq 3 to be applied or dead-lettered"
    )
    blocked = e2e.get_item("OrderSequences", {"customer_id": blocked_customer})
    expected = [1, 3] if outcome.startswith("applied") else [1]
    assert blocked is not None and blocked["seqs"] == expected, (
        f"seq 3 was {outcome}; the poison may never be applied; item: {blocked}"
    )
