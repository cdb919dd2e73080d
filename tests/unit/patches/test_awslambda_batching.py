"""BatchFilling: one receive fills one batch up to BatchSize within the batching window,
and the pollers of a mapping fill their batches one at a time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eda_sandbox.patches.awslambda.batching import LONG_POLL_SECONDS, BatchFilling


class _Queue:
    """A stand-in for LocalStack's queue behind its client: a receive takes up to the
    requested count (the override above 10) and waits only while the queue is empty."""

    def __init__(self, messages: int = 0) -> None:
        self.messages = [f"m{i}" for i in range(messages)]
        self.sent = messages
        self.changed = threading.Condition()
        self.calls: list[dict[str, Any]] = []
        self.meta = "meta"

    def send(self, count: int) -> None:
        with self.changed:
            self.messages += [f"m{self.sent + i}" for i in range(count)]
            self.sent += count
            self.changed.notify_all()

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        count = kwargs["MaxNumberOfMessages"]
        if kwargs.get("sqs_override_max_message_count", 0) > 10:
            count = kwargs["sqs_override_max_message_count"]
        with self.changed:
            self.changed.wait_for(lambda: self.messages, timeout=kwargs["WaitTimeSeconds"])
            got, self.messages = self.messages[:count], self.messages[count:]
            self.calls.append({**kwargs, "got": got})
        return {"Messages": [{"MessageId": m} for m in got]}


class _Poller:
    def __init__(self, batch_size: int, window: int) -> None:
        self.batch_size = batch_size
        self.maximum_batching_window = window


def _filling(queue: _Queue, batch_size: int, window: int) -> BatchFilling:
    return BatchFilling(queue, _Poller(batch_size, window), threading.Event())


def test_without_a_window_one_long_poll_returns_what_is_there() -> None:
    queue = _Queue(messages=3)
    batch = _filling(queue, 10, 0).receive_message(
        QueueUrl="q", WaitTimeSeconds=0, sqs_override_wait_time_seconds=0
    )
    assert len(batch["Messages"]) == 3
    assert [(c["WaitTimeSeconds"], c["MaxNumberOfMessages"]) for c in queue.calls] == [
        (LONG_POLL_SECONDS, 10)
    ]
    assert "sqs_override_wait_time_seconds" not in queue.calls[0]
    assert _filling(queue, 10, 0).meta == "meta"  # everything else is the client's own


def test_a_window_fills_the_batch_from_messages_that_arrive_later() -> None:
    queue = _Queue(messages=5)
    arrivals = threading.Timer(0.2, queue.send, args=(20,))
    arrivals.start()
    started = time.monotonic()
    batch = _filling(queue, 20, 2).receive_message(QueueUrl="q", WaitTimeSeconds=2)
    assert len(batch["Messages"]) == 20
    assert time.monotonic() - started < 1.5  # full: invoked before the window ends
    assert len(queue.messages) == 5


def test_the_window_ends_a_batch_that_is_not_full() -> None:
    queue = _Queue(messages=7)
    started = time.monotonic()
    batch = _filling(queue, 20, 1).receive_message(QueueUrl="q", WaitTimeSeconds=1)
    took = time.monotonic() - started
    assert len(batch["Messages"]) == 7
    assert 0.9 < took < 1.5, took


def test_pollers_of_one_mapping_fill_one_batch_at_a_time() -> None:
    """AWS's numbers: 30 messages, BatchSize 20, a 1 s window -> 20 + 10, never split."""
    queue = _Queue(messages=30)
    filling = _filling(queue, 20, 1)
    with ThreadPoolExecutor(4) as pool:
        sizes = list(
            pool.map(
                lambda _i: len(
                    filling.receive_message(QueueUrl="q", WaitTimeSeconds=1)["Messages"]
                ),
                range(4),
            )
        )
    assert sorted(sizes, reverse=True) == [20, 10, 0, 0]


def test_a_stopped_mapping_stops_filling() -> None:
    queue = _Queue(messages=1)
    stop = threading.Event()
    filling = BatchFilling(queue, _Poller(20, 30), stop)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert len(filling.receive_message(QueueUrl="q", WaitTimeSeconds=20)["Messages"]) == 1
    assert time.monotonic() - started < 2.5
