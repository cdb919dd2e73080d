"""Helpers shared by the benchmarks: clients, percentiles, CPU probe, paced publishing, DLQ sweeps.

Kept free of anything path-specific so bench/pipeline.py only says *what* a path sends and
where its results land.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from eda_app.errors import EdaAppError

REPO = Path(__file__).resolve().parents[1]


def session(region: str) -> boto3.session.Session:
    """A session for ``region``; dummy credentials when none are configured.

    Same rule as eda_app.producers.default_client: an emulator accepts any credentials,
    and without these boto3 would search for some (slowly, via IMDS) and then refuse.
    """
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return boto3.session.Session(region_name=region)
    return boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",  # any value works on an emulator
        region_name=region,
    )


def client(sess: boto3.session.Session, service: str, endpoint: str, pool: int = 10) -> Any:
    # Pool >= publishing threads, or botocore serializes them behind a full pool and
    # the publish rate measures our connection pool rather than the endpoint.
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=5,
        read_timeout=30,
    )
    return sess.client(service, endpoint_url=endpoint, config=config)


def pct(values: list[float], q: float) -> float | None:
    """Percentile ``q`` (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def load_avg() -> str:
    """1/5/15-minute load: other engineers share this machine, so every result carries it."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_probe_ms() -> float:
    """Milliseconds for a fixed pure-Python loop, best of three. The load average does
    not show a host that gives this machine less CPU; this does (bench/RESULTS.md:
    the same loop took 0.35-0.63 s on one idle afternoon), so each run reports it."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        sum(range(2_000_000))
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1)


@dataclass
class BenchEvent:
    """One event of a run and what became of it (times are time.time() seconds)."""

    index: int
    body: dict[str, Any]
    key: str  # result-table partition key value (order_id, or customer_id on FIFO)
    poison: bool
    seq: int = 0  # per-customer sequence number (FIFO only)
    published_at: float | None = None
    publish_error: str | None = None
    seen_at: float | None = None  # estimated write time of the result
    checked_at: float | None = None  # last poll that did not find the result yet
    in_dlq: bool = False


@dataclass
class Unit:
    """One publishing call: its events, its lane (thread) and when it is due."""

    lane: int
    events: list[BenchEvent]
    due: float = 0.0  # seconds after the run's start


@dataclass
class PublishStats:
    started: float = 0.0
    finished: float = 0.0
    lags: list[float] = field(default_factory=list)  # actual - scheduled start, seconds


def publish(
    units: list[Unit], send: Callable[[list[BenchEvent]], object], threads: int
) -> PublishStats:
    """Send every unit at its due time, each lane's units in order on the lane's thread.

    Lanes (not a shared pool queue) keep per-key order where the path needs it (a FIFO
    customer always maps to one lane). The pacing loop sleeps until absolute due times,
    so a slow call delays that one unit but never shifts the schedule of later ones.
    """
    lanes: list[queue.SimpleQueue[Unit | None]] = [queue.SimpleQueue() for _ in range(threads)]
    stats = PublishStats()
    lock = threading.Lock()

    def worker(q: queue.SimpleQueue[Unit | None]) -> None:
        while (unit := q.get()) is not None:
            now = time.time()
            for event in unit.events:
                event.published_at = now
            try:
                send(unit.events)
            except (ClientError, BotoCoreError, EdaAppError) as e:
                for event in unit.events:
                    event.publish_error = type(e).__name__
            with lock:
                stats.lags.append(now - (stats.started + unit.due))

    workers = [threading.Thread(target=worker, args=(q,), daemon=True) for q in lanes]
    for w in workers:
        w.start()
    stats.started = time.time()
    anchor = time.monotonic()  # monotonic for pacing; wall clock only for timestamps
    for unit in sorted(units, key=lambda u: u.due):
        delay = anchor + unit.due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        lanes[unit.lane % threads].put(unit)
    for q in lanes:
        q.put(None)
    for w in workers:
        w.join()
    stats.finished = time.time()
    return stats


def sweep_dlq(sqs: Any, url: str, pattern: re.Pattern[str], max_calls: int = 50) -> set[int]:
    """Event indexes (``pattern`` group 1) of our messages in a DLQ; ours are deleted.

    Foreign messages (other runs, tests sharing the queue) stay hidden only until the
    sweep ends, then are released at once: hiding them during the sweep lets a FIFO
    queue hand out the next message groups instead of the same foreign heads again.
    """
    found: set[int] = set()
    foreign: list[str] = []
    for _ in range(max_calls):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        ours = []
        for m in messages:
            indexes = {int(x) for x in pattern.findall(m["Body"])}
            if indexes:
                found |= indexes
                ours.append(m["ReceiptHandle"])
            else:
                foreign.append(m["ReceiptHandle"])
        _batched(sqs.delete_message_batch, url, ours, {})
    _batched(sqs.change_message_visibility_batch, url, foreign, {"VisibilityTimeout": 0})
    return found


def _batched(call: Callable[..., Any], url: str, handles: list[str], extra: dict[str, int]) -> None:
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, **extra}
            for i, h in enumerate(handles[start : start + 10])
        ]
        call(QueueUrl=url, Entries=entries)


def chunks[T](items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class PathSpec:
    tag: str  # short id part, so the DLQ pattern can tell paths apart
    table: str
    key_name: str
    dlqs: tuple[str, ...]  # first one is where poison must land; others would be a bug
    source_queue: str | None  # SQS source whose redrive bounds the DLQ wait
