"""The pipeline benchmark takes latency from the handlers' write stamps when present."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def poller(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("_poller")


def test_plain_stamp(poller: ModuleType) -> None:
    assert poller.written_at({"written_at": {"N": "1700000000.125"}}, None) == 1700000000.125


def test_fifo_stamp_is_the_one_at_the_seq_index(poller: ModuleType) -> None:
    item = {
        "seqs": {"L": [{"N": "3"}, {"N": "1"}, {"N": "2"}]},
        "written_at": {"L": [{"N": "10.5"}, {"N": "11.5"}, {"N": "12.5"}]},
    }
    assert poller.written_at(item, 1) == 11.5
    assert poller.written_at(item, 2) == 12.5
    assert poller.written_at(item, 9) is None  # not written yet


@pytest.mark.parametrize(
    "item",
    [
        None,
        {},
        {"seqs": {"L": [{"N": "1"}]}},
        {"seqs": {"L": [{"N": "1"}]}, "written_at": {"L": []}},
    ],
)
def test_missing_stamps_fall_back(poller: ModuleType, item: dict[str, object] | None) -> None:
    # Handlers from elsewhere may not stamp: the poller then estimates from its reads.
    assert poller.written_at(item, None if item is None else 1) is None


class _CountingTable:
    """BatchGetItem on one FIFO item whose write_count the test moves by hand."""

    def __init__(self) -> None:
        self.count = 1
        self.projections: list[str] = []

    def batch_get_item(self, RequestItems: dict) -> dict:
        ((table, request),) = RequestItems.items()
        self.projections.append(request["ProjectionExpression"])
        item = {
            "customer_id": {"S": "c1"},
            "write_count": {"N": str(self.count)},
            "seqs": {"L": [{"N": str(s)} for s in range(1, self.count + 1)]},
            "written_at": {"L": [{"N": f"{100 + s}.0"} for s in range(1, self.count + 1)]},
        }
        return {"Responses": {table: [item]}}


def test_fifo_items_are_read_whole_only_when_their_count_moved(poller: ModuleType) -> None:
    import _common

    spec = _common.PathSpec("ff", "OrderSequences", "customer_id", (), "OrderQueue.fifo")
    events = [
        _common.BenchEvent(index=i, key="c1", seq=i + 1, body={}, poison=False) for i in range(2)
    ]
    for e in events:
        e.published_at = 100.0
    table = _CountingTable()
    reader = poller.Poller(table, "t", spec, events, interval=1)

    reader.poll(events, consistent=False)  # count 1: new, read whole
    reader.poll(reader.pending(), consistent=False)  # count unchanged: counters only
    table.count = 2
    reader.poll(reader.pending(), consistent=False)  # moved: read whole again

    whole = [p for p in table.projections if "seqs" in p]
    assert len(table.projections) == 5 and len(whole) == 2
    assert [e.seen_at for e in events] == [101.0, 102.0]
