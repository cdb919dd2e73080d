"""Soak: a steady stream through SNS -> SQS -> Lambda -> DynamoDB, with poison and exact
duplicates, while the sandbox's processes are sampled (``make soak``).

    .venv/bin/python bench/soak.py [--events 10000] [--rate 50] [--poison 0.1]
        [--duplicates 0.05] [--tolerance 0.10] [--keep-results] [--json]

It holds when nothing is lost, nothing is processed twice (the handler is idempotent:
an exact duplicate, same event id, must not write again), every poison event is in
EventQueue-dlq exactly as often as it was published, and the RSS, open files and threads
of every long-lived sandbox process (LocalStack, the DynamoDB process) and of each role's
processes together grow by at most --tolerance from the second quarter of the run to the
last. The machinery (events, paced publishing, result poller) is bench/pipeline.py's.

Results the handler wrote are data, not a leak, and a table that keeps them grows the
DynamoDB process by design. So, unless --keep-results, the soak deletes each result and
its idempotency record once it has counted them and every duplicate of that event has
had ``--grace`` seconds to arrive: the tables hold a steady amount, and what still grows
is the sandbox itself. A deleted result that comes back counts as processed twice.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import re
import sys
import threading
import time
import uuid
from typing import Any

from _common import BenchEvent, Unit, chunks, client, cpu_probe_ms, load_avg, publish, session
from _modes import SPECS, make_events, make_sender
from _poller import Poller
from _samples import METRICS, Sampler, quarter_growth
from rich.console import Console
from rich.table import Table

from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher
from eda_sandbox.topology import load_outputs

PATH = "sns-sqs"
POISON_RETRY_WAIT = 60.0  # redrive after 3 receives, 1+2+4 s apart (retry_backoff.py)


def schedule(events: list[BenchEvent], rate: float, duplicates: float) -> list[Unit]:
    """Every event once, plus an exact copy of ``duplicates`` of them about a second
    later; all publishes paced at ``rate`` per second."""
    every = round(1 / duplicates) if duplicates > 0 else 0
    order: list[BenchEvent] = []
    pending: collections.deque[tuple[int, BenchEvent]] = collections.deque()
    for e in events:
        order.append(e)
        if every and e.index % every == every // 2:
            pending.append((len(order) + int(rate), dataclasses.replace(e)))
        while pending and pending[0][0] <= len(order):
            order.append(pending.popleft()[1])
    order.extend(copy for _, copy in pending)
    return [Unit(slot, [e], slot / rate) for slot, e in enumerate(order)]


class Cleaner(threading.Thread):
    """Deletes counted results and their idempotency records after the grace period."""

    def __init__(self, ddb: Any, orders: str, idempotency: str, grace: float) -> None:
        super().__init__(daemon=True)
        self.ddb, self.orders, self.idempotency, self.grace = ddb, orders, idempotency, grace
        self.queue: collections.deque[tuple[float, str]] = collections.deque()
        self.deleted: set[str] = set()
        self.stop = threading.Event()

    def counted(self, key: str, last_publish: float) -> None:
        self.queue.append((last_publish + self.grace, key))

    def run(self) -> None:
        while not self.stop.wait(2.0):
            due = []
            while self.queue and self.queue[0][0] <= time.time():
                due.append(self.queue.popleft()[1])
            for part in chunks(due, 25):
                self._delete_keys(self.orders, [{"order_id": {"S": k}} for k in part])
                self.deleted.update(part)
            self._expire_idempotency()

    def _expire_idempotency(self) -> None:
        # Powertools writes expiration = now + 3600; older than the grace: delete.
        cutoff = time.time() + 3600 - self.grace
        kwargs: dict[str, Any] = {
            "TableName": self.idempotency,
            "ProjectionExpression": "id, expiration",
        }
        while True:
            page = self.ddb.scan(**kwargs)
            old = [i for i in page["Items"] if float(i.get("expiration", {}).get("N", 0)) < cutoff]
            for part in chunks(old, 25):
                self._delete_keys(self.idempotency, [{"id": i["id"]} for i in part])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # Not ``_delete``: that name is threading.Thread's own, called when the thread ends.
    def _delete_keys(self, table: str, keys: list[dict[str, Any]]) -> None:
        if keys:
            requests = [{"DeleteRequest": {"Key": k}} for k in keys]
            self.ddb.batch_write_item(RequestItems={table: requests})


def count_dlq(sqs: Any, url: str, pattern: re.Pattern[str]) -> collections.Counter[int]:
    """How often each of our events is in the DLQ (messages deleted once counted)."""
    found: collections.Counter[int] = collections.Counter()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        ours: list[dict[str, str]] = []
        for m in messages:
            if match := pattern.search(m["Body"]):
                found[int(match.group(1))] += 1
                ours.append({"Id": str(len(ours)), "ReceiptHandle": m["ReceiptHandle"]})
        if ours:
            sqs.delete_message_batch(QueueUrl=url, Entries=ours)
        else:
            return found  # only others' messages left


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings()
    record = launcher.read_pid_record(settings)
    if record is None:
        raise SystemExit("no sandbox runs from this state folder (make up)")
    out = load_outputs()
    sess = session(settings.region)
    clients = {s: client(sess, s, settings.endpoint_url, 16) for s in ("sns", "sqs", "dynamodb")}
    run_id = uuid.uuid4().hex[:8]
    spec = SPECS[PATH]
    events = make_events(PATH, run_id, args.events, args.poison, 32)
    units = schedule(events, args.rate, args.duplicates)
    publishes: collections.Counter[int] = collections.Counter(u.events[0].index for u in units)

    sampler = Sampler(record.pid, every=args.sample_every)
    sampler.start()
    poller = Poller(clients["dynamodb"], out["tables"][spec.table]["name"], spec, events, 0.5)
    poller.start()
    cleaner = Cleaner(
        clients["dynamodb"],
        out["tables"]["Orders"]["name"],
        out["tables"]["Idempotency"]["name"],
        args.grace,
    )
    if not args.keep_results:
        cleaner.start()
    send = make_sender(PATH, out, clients)

    def watch() -> None:
        handed: set[int] = set()
        while not poller.stop.wait(1.0):
            for e in events:
                if e.seen_at is not None and e.index not in handed and not e.poison:
                    handed.add(e.index)
                    # Its duplicate, if any, was published about a second after it.
                    cleaner.counted(e.key, time.time())

    if not args.keep_results:
        threading.Thread(target=watch, daemon=True).start()
    started = time.time()
    stats = publish(units, send, args.threads)
    finished = time.time()
    dlq_url = out["queues"]["EventQueue-dlq"]["url"]
    pattern = re.compile(rf"bench-{run_id}-{spec.tag}-[eo](\d+)")
    in_dlq: collections.Counter[int] = collections.Counter()
    deadline = finished + args.drain
    poison = [e for e in events if e.poison]
    while time.time() < deadline:
        in_dlq += count_dlq(clients["sqs"], dlq_url, pattern)
        if not poller.pending() and all(in_dlq[e.index] >= publishes[e.index] for e in poison):
            break
        time.sleep(2)
    drained = time.time()
    sampler.stop.set()
    poller.stop.set()
    cleaner.stop.set()
    poller.join()
    valid = [e for e in events if not e.poison]
    # Final consistent read: any item of a deleted key came back, a kept one says its count.
    poller.items.clear()
    poller.poll(valid, consistent=True)
    written_twice = [
        k
        for k, item in poller.items.items()
        if int(item.get("write_count", {}).get("N", "1")) > 1 or k in cleaner.deleted
    ]
    lost = [e.index for e in valid if e.seen_at is None]
    wrong_dlq = {e.index: in_dlq[e.index] for e in poison if in_dlq[e.index] != publishes[e.index]}
    valid_in_dlq = [e.index for e in valid if in_dlq[e.index]]
    growth = quarter_growth(sampler.samples, started, finished)
    over = [
        f"{row['what']} {metric} +{row[metric][2]}%"
        for row in growth
        for metric in METRICS
        if metric in row and row[metric][2] > args.tolerance * 100
    ]
    latencies = sorted(e.seen_at - e.published_at for e in valid if e.seen_at and e.published_at)
    return {
        "events": len(events),
        "publishes": len(units),
        "duplicates": len(units) - len(events),
        "poison": len(poison),
        "publish_rate": round(len(units) / max(1e-9, stats.finished - stats.started), 1),
        "run_s": round(finished - started, 1),
        "drain_s": round(drained - finished, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
        "lost": len(lost),
        "processed_twice": len(written_twice),
        "poison_not_once_in_dlq": len(wrong_dlq),
        "valid_in_dlq": len(valid_in_dlq),
        "growth": growth,
        "over_tolerance": over,
        "cpu_probe_ms": args.probe,
        "load": load_avg(),
        "ok": not (lost or written_twice or wrong_dlq or valid_in_dlq or over),
    }


def render(result: dict[str, Any], args: argparse.Namespace) -> Table:
    title = (
        f"soak {result['publishes']} publishes ({result['events']} events, "
        f"{result['duplicates']} duplicates, {result['poison']} poison) at {args.rate:g}/s, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, CPU probe {result['cpu_probe_ms']} ms, "
        f"load {result['load']}"
    )
    table = Table(title=title)
    table.add_column("process")
    for metric in METRICS:
        table.add_column(f"{metric} Q2 -> Q4", justify="right")
    for row in result["growth"]:
        cells = []
        for metric in METRICS:
            q2, q4, pct = row.get(metric, (None, None, None))
            cells.append("-" if q2 is None else f"{q2:g} -> {q4:g} ({pct:+.1f}%)")
        table.add_row(row["what"], *cells)
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=50.0, help="publishes per second")
    p.add_argument("--poison", type=float, default=0.10)
    p.add_argument("--duplicates", type=float, default=0.05)
    p.add_argument("--tolerance", type=float, default=0.10, help="allowed growth Q2 -> Q4")
    p.add_argument("--grace", type=float, default=30.0, help="seconds before a result is deleted")
    p.add_argument("--keep-results", action="store_true", help="leave results in the tables")
    p.add_argument("--drain", type=float, default=POISON_RETRY_WAIT + 120.0)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--sample-every", type=float, default=2.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    args.probe = cpu_probe_ms()
    result = run(args)
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(render(result, args))
    summary = {k: v for k, v in result.items() if k != "growth"}
    console.print(summary)
    if args.json:
        print(json.dumps({"bench": "soak", "date": time.strftime("%Y-%m-%dT%H:%M:%S"), **result}))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
