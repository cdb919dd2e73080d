"""The pipeline benchmark's result poller: which events' results have landed, and when.

The reference handlers stamp ``written_at`` on what they write, so a result's time is
exact however late the poller reads it; for handlers without stamps it falls back to
the middle of the interval in which the result first appeared.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from _common import BenchEvent, PathSpec, chunks
from botocore.exceptions import BotoCoreError, ClientError


class Poller(threading.Thread):
    """Reads outstanding result keys every ``interval`` seconds; marks first sightings."""

    def __init__(
        self, ddb: Any, table: str, spec: PathSpec, events: list[BenchEvent], interval: float
    ) -> None:
        super().__init__(daemon=True)
        self.ddb, self.table, self.spec, self.events = ddb, table, spec, events
        self.interval = interval
        self.fifo = spec.key_name == "customer_id"
        self.stop = threading.Event()
        self.requests = 0
        self.busy = 0.0  # seconds spent in poll requests
        self.last_poll = 0.0
        self.last_mid = 0.0  # middle of the last read request
        self.errors: list[str] = []  # failed polls; the run reports them, never hides them
        self.items: dict[str, dict[str, Any]] = {}  # last item read per key

    def pending(self) -> list[BenchEvent]:
        return [
            e
            for e in self.events
            if e.published_at is not None and e.publish_error is None
            if e.seen_at is None and not e.poison
        ]

    def run(self) -> None:
        while not self.stop.is_set():
            tick = time.monotonic()
            if pending := self.pending():
                try:
                    self.poll(pending, consistent=False)
                except (BotoCoreError, ClientError) as e:
                    # One failed read is no reason to stop measuring; many are reported.
                    self.errors.append(f"{type(e).__name__}: {e}")
            self.stop.wait(max(0.0, tick + self.interval - time.monotonic()))

    def poll(self, events: list[BenchEvent], consistent: bool) -> None:
        by_key: dict[str, list[BenchEvent]] = {}
        for e in events:
            by_key.setdefault(e.key, []).append(e)
        keys = list(by_key)
        if self.fifo:
            # A FIFO item carries every seq and stamp of its customer, so reading whole
            # items each poll grew with the run and, at 50 events/s, cost the sandbox a
            # quarter of its CPU (py-spy). Read the counters first, and whole items
            # only where the count moved: an unchanged count means nothing new landed.
            counts = self.read(keys, f"{self.spec.key_name}, write_count", consistent)
            keys = [
                k
                for k, item in counts.items()
                if item is not None
                # No counter (another handler): always read whole.
                and (_count(item) is None or _count(item) != _count(self.items.get(k)))
            ]
            for key, item in counts.items():
                if key not in keys:
                    last = self.items.get(key) if item is not None else None
                    for e in by_key[key]:
                        self.mark(e, last, self.last_mid)
        projection = f"{self.spec.key_name}, write_count, written_at" + (
            ", seqs" if self.fifo else ""
        )
        for key, item in self.read(keys, projection, consistent).items():
            if item is not None:
                self.items[key] = item
            for e in by_key[key]:
                self.mark(e, item, self.last_mid)

    def read(
        self, keys: list[str], projection: str, consistent: bool
    ) -> dict[str, dict[str, Any] | None]:
        """The items of ``keys`` (None: no item); keys the table did not process are left
        out, since a key not read says nothing and the next poll retries it."""
        found: dict[str, dict[str, Any] | None] = {}
        for part in chunks(keys, 100):
            request = {
                "Keys": [{self.spec.key_name: {"S": k}} for k in part],
                "ProjectionExpression": projection,
                "ConsistentRead": consistent,
            }
            t0 = time.time()
            resp = self.ddb.batch_get_item(RequestItems={self.table: request})
            t1 = time.time()
            self.requests += 1
            self.busy += t1 - t0
            self.last_poll = t1
            self.last_mid = (t0 + t1) / 2  # roughly when the server read the items
            unprocessed = resp.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            skipped = {k[self.spec.key_name]["S"] for k in unprocessed}
            items = {
                raw[self.spec.key_name]["S"]: raw
                for raw in resp.get("Responses", {}).get(self.table, [])
            }
            found.update({k: items.get(k) for k in part if k not in skipped})
        return found

    def mark(self, e: BenchEvent, item: dict[str, Any] | None, mid: float) -> None:
        written = item is not None and (not self.fifo or e.seq in seqs_of(item))
        if not written:
            e.checked_at = mid
        elif e.seen_at is None:
            stamped = written_at(item, e.seq if self.fifo else None)
            if stamped is not None:
                e.seen_at = stamped
                return
            # No stamp: written after the last miss (or the publish) and before this read.
            since = e.checked_at if e.checked_at is not None else e.published_at
            e.seen_at = ((since or mid) + mid) / 2


def _count(item: dict[str, Any] | None) -> int | None:
    return int(item["write_count"]["N"]) if item and "write_count" in item else None


def written_at(item: dict[str, Any] | None, seq: int | None) -> float | None:
    """The handler's write stamp: a number, or for FIFO a list aligned with ``seqs``."""
    raw = (item or {}).get("written_at")
    if raw is None:
        return None
    if seq is None:
        return float(raw["N"]) if "N" in raw else None
    stamps = raw.get("L", [])
    seqs = seqs_of(item or {})
    if seq not in seqs or seqs.index(seq) >= len(stamps):
        return None
    return float(stamps[seqs.index(seq)]["N"])


def seqs_of(item: dict[str, Any]) -> list[int]:
    return [int(v["N"]) for v in item.get("seqs", {}).get("L", [])]
