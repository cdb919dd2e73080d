"""End-to-end benchmark of the reference system's paths, against any AWS-compatible endpoint.

    sns-sqs      publish order_placed -> EventTopic -> EventQueue -> order_consumer -> Orders
    eventbridge  put_events -> app-bus -> rule OrderPlaced -> order_placed_handler -> PlacedOrders
    fifo         publish_order -> OrderTopic.fifo -> OrderQueue.fifo -> order_fifo_consumer
                 -> OrderSequences (one item per customer, ``seqs`` in arrival order)

Modes: ``burst`` (N events as fast as 8 publishing threads go; EventBridge in batches of
10) and ``steady`` (R events/s for T s, paced against absolute due times). A fraction of
the events is poison (sku POISON, rejected by the handlers) and must end in the path's DLQ.

Latency = result write time - time just before the publish call. The reference handlers
stamp ``written_at`` (their clock, epoch seconds) on each result, so latency is exact on
one machine and the poller (BatchGetItem every --poll-interval) only finds finished
events. For handlers without the stamp it falls back to the middle of the interval in
which an item first appeared (error about +-interval/2 plus one round trip). The poll
load is reported (requests/s).

    .venv/bin/python bench/pipeline.py [--mode burst|steady] [--events 300]
        [--rate 50 --duration 30] [--paths sns-sqs,eventbridge,fifo] [--poison 0.02]
        [--endpoint URL] [--own-resources] [--drain-timeout 180] [--json]

Without --own-resources it uses the applied reference topology (.sandbox/outputs.json);
every id carries a fresh run id, so earlier items and DLQ messages are never counted (our
DLQ messages are deleted once counted; others' are left as they were).

After publishing, the run waits (bounded by --drain-timeout) for every result and for
every poison event in the DLQ. SQS paths dead-letter only on the receive after the
maxReceiveCount-th, each a VisibilityTimeout (+ the event source's idle backoff) apart, so
with poison the default wait grows to cover that (about 4 minutes on the reference
topology). "lost" counts events with neither a result nor a DLQ message when the wait
ended; "drain_timed_out" in the JSON says whether it ended by the deadline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    BenchEvent,
    PathSpec,
    PublishStats,
    Unit,
    client,
    cpu_probe_ms,
    load_avg,
    pct,
    publish,
    render,
    session,
    sweep_dlq,
    topology,
    wait_mappings,
)
from _poller import Poller, seqs_of
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from eda_app.errors import PutEventsError
from eda_app.producers import publish_event, publish_order, put_events
from eda_sandbox.config import load_settings
from eda_sandbox.errors import SandboxError
from eda_sandbox.topology import Outputs

PATHS = ("sns-sqs", "eventbridge", "fifo")
DLQ_SWEEP_EVERY = 2.0  # seconds; DLQ arrival takes minutes, no need to sweep faster
DLQ_SLACK = 15.0  # seconds of slack for polling and invocations (as the tests use)
# An idle LocalStack event source mapping backs off between empty polls up to
# LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC (10 s) x 1.5 jitter, and a
# poison message waits for that once per redelivery: observed DLQ arrival was past
# 3 x 61 s + 15 s.
ESM_EMPTY_BACKOFF = 15.0


SPECS = {
    "sns-sqs": PathSpec("sq", "Orders", "order_id", ("EventQueue-dlq",), "EventQueue"),
    "eventbridge": PathSpec(
        "eb",
        "PlacedOrders",
        "order_id",
        ("order_placed_handler-failures", "OrderPlaced-target-dlq"),
        None,
    ),
    "fifo": PathSpec(
        "ff", "OrderSequences", "customer_id", ("OrderQueue-dlq.fifo",), "OrderQueue.fifo"
    ),
}


def make_events(path: str, run: str, count: int, poison: float, groups: int) -> list[BenchEvent]:
    """``count`` orders; poison spread evenly (exactly round(count x poison) of them).

    FIFO: valid orders go round-robin over ``groups`` customers with per-customer seq 1,
    2, ...; each poison order gets a customer of its own. A poison order blocks its
    message group until it is dead-lettered (minutes), which would measure the redrive
    policy rather than the pipeline; the tests cover that blocking.
    """
    tag = SPECS[path].tag
    seqs: dict[str, int] = {}
    events = []
    for i in range(count):
        bad = int((i + 1) * poison) > int(i * poison)
        body: dict[str, Any] = {
            "event_type": "order_placed",
            "event_id": f"bench-{run}-{tag}-e{i:05d}",
            "correlation_id": f"bench-{run}",
            "order_id": f"bench-{run}-{tag}-o{i:05d}",
            "customer_id": f"bench-{run}-{tag}-c{i % groups:03d}",
            "sku": "POISON" if bad else "SKU-1",
            "quantity": 1,
            "amount": 10,
        }
        if path == "fifo" and bad:
            body["customer_id"] = f"bench-{run}-{tag}-p{i:05d}"
        seq = seqs[body["customer_id"]] = seqs.get(body["customer_id"], 0) + 1
        if path == "fifo":
            body["seq"] = seq
        key = body["customer_id"] if path == "fifo" else body["order_id"]
        events.append(BenchEvent(i, body, key, bad, seq))
    return events


def make_units(path: str, events: list[BenchEvent], mode: str, rate: float) -> list[Unit]:
    if path == "eventbridge" and mode == "burst":
        # PutEvents takes 10 entries per call; a burst producer would use that.
        return [Unit(n, events[s : s + 10]) for n, s in enumerate(range(0, len(events), 10))]
    units = []
    for e in events:
        # FIFO: one customer, one lane, so each group is published in seq order.
        lane = int(e.key[-3:]) if path == "fifo" and not e.poison else e.index
        units.append(Unit(lane, [e], e.index / rate if mode == "steady" else 0.0))
    return units


def make_sender(path: str, out: Outputs, clients: dict[str, Any]) -> Callable[..., object]:
    if path == "sns-sqs":
        arn = out["topics"]["EventTopic"]["arn"]
        return lambda evs: publish_event(evs[0].body, topic_arn=arn, sns_client=clients["sns"])
    if path == "fifo":
        arn = out["topics"]["OrderTopic.fifo"]["arn"]
        return lambda evs: publish_order(evs[0].body, topic_arn=arn, sns_client=clients["sns"])
    bus = out["buses"]["app-bus"]["arn"]

    def send(evs: list[BenchEvent]) -> None:
        try:
            put_events([e.body for e in evs], bus_name=bus, events_client=clients["events"])
        except PutEventsError as e:
            # Only the entries EventBridge refused are unpublished; the rest went through.
            for failed in e.failed:
                evs[failed.index].publish_error = failed.error_code

    return send


@dataclass
class Context:
    out: Outputs
    clients: dict[str, Any]
    args: argparse.Namespace
    run: str


def drain_bound(ctx: Context, spec: PathSpec) -> float:
    """maxReceiveCount x (VisibilityTimeout + ESM backoff) + slack of the source queue, else 0."""
    if spec.source_queue is None:
        return 0.0
    attrs = ctx.clients["sqs"].get_queue_attributes(
        QueueUrl=ctx.out["queues"][spec.source_queue]["url"],
        AttributeNames=["RedrivePolicy", "VisibilityTimeout"],
    )["Attributes"]
    receives = int(json.loads(attrs.get("RedrivePolicy", "{}")).get("maxReceiveCount", 0))
    return receives * (int(attrs["VisibilityTimeout"]) + ESM_EMPTY_BACKOFF) + DLQ_SLACK


def run_path(ctx: Context, path: str) -> dict[str, Any]:
    args, spec = ctx.args, SPECS[path]
    count = args.events if args.mode == "burst" else round(args.rate * args.duration)
    events = make_events(path, ctx.run, count, args.poison, args.groups)
    units = make_units(path, events, args.mode, args.rate)
    send = make_sender(path, ctx.out, ctx.clients)
    # Explicit --drain-timeout is a hard bound from the end of publishing. By default the
    # wait is 180 s, extended for poison on SQS paths: each poison message has been
    # received once when the backlog is done, and needs the redrive bound from there.
    explicit = args.drain_timeout is not None
    drain = args.drain_timeout if explicit else 180.0
    dlq_bound = drain_bound(ctx, spec) if args.poison > 0 and not explicit else 0.0
    load_before = load_avg()
    poller = Poller(
        ctx.clients["poll"], ctx.out["tables"][spec.table]["name"], spec, events, args.poll
    )
    poller.start()
    stats = publish(units, send, args.threads)
    published = [e for e in events if e.publish_error is None]
    poison = [e for e in published if e.poison]
    pattern = re.compile(rf"bench-{ctx.run}-{spec.tag}-[eo](\d+)")
    dlq_urls = [ctx.out["queues"][q]["url"] for q in spec.dlqs]
    deadline, next_sweep, dlq_last = stats.finished + drain, 0.0, None
    in_dlq: dict[str, set[int]] = {q: set() for q in spec.dlqs}
    timed_out = False
    while True:
        now = time.time()
        if poison and now >= next_sweep:
            for name, url in zip(spec.dlqs, dlq_urls, strict=True):
                found = sweep_dlq(ctx.clients["sqs"], url, pattern)
                if found - in_dlq[name]:
                    dlq_last = time.time()
                in_dlq[name] |= found
            next_sweep = now + DLQ_SWEEP_EVERY
        results_done = not poller.pending()
        if results_done and dlq_bound:
            deadline, dlq_bound = max(deadline, now + dlq_bound), 0.0
        if results_done and len(in_dlq[spec.dlqs[0]]) >= len(poison):
            break
        if timed_out := now > deadline:
            break
        time.sleep(0.2)
    poller.stop.set()
    poller.join()
    # Final consistent read of every key: catches late items and counts duplicates.
    valid = [e for e in published if not e.poison]
    poller.items.clear()
    poller.poll(valid, consistent=True)
    for e in events:
        e.in_dlq = any(e.index in found for found in in_dlq.values())
    waited = deadline - stats.finished
    row = summarize(ctx, path, events, stats, poller, in_dlq, dlq_last, waited, load_before)
    # Lost includes what was merely unfinished when the wait ended; say which it was.
    row["drain_timed_out"] = timed_out
    return row


def summarize(
    ctx: Context,
    path: str,
    events: list[BenchEvent],
    stats: PublishStats,
    poller: Poller,
    in_dlq: dict[str, set[int]],
    dlq_last: float | None,
    drain: float,
    load_before: str,
) -> dict[str, Any]:
    spec = SPECS[path]
    published = [e for e in events if e.publish_error is None]
    valid = [e for e in published if not e.poison]
    seen = [e for e in valid if e.seen_at is not None]
    first = min((e.published_at for e in published if e.published_at), default=stats.started)
    last_seen = max((e.seen_at for e in seen if e.seen_at), default=None)
    latencies = [e.seen_at - e.published_at for e in seen if e.seen_at and e.published_at]
    if poller.fifo:
        lists = [seqs_of(item) for item in poller.items.values()]
        duplicates = sum(len(s) - len(set(s)) for s in lists)
        out_of_order = sum(1 for s in lists if s != sorted(s))
    else:
        counts = [int(i.get("write_count", {}).get("N", "1")) for i in poller.items.values()]
        duplicates, out_of_order = sum(1 for c in counts if c > 1), 0
    lost = sum(1 for e in published if e.seen_at is None and not e.in_dlq)
    span = stats.finished - stats.started
    elapsed = (last_seen - first) if last_seen else None
    return {
        "path": path,
        "mode": ctx.args.mode,
        "events": len(events),
        "published": len(published),
        "publish_errors": len(events) - len(published),
        "publish_rate": round(len(published) / span, 1) if span > 0 else None,
        "schedule_lag_p99_ms": round((pct(stats.lags, 99) or 0) * 1000, 1),
        "processed": len(seen),
        "throughput": round(len(seen) / elapsed, 1) if elapsed else None,
        "p50_ms": _ms(pct(latencies, 50)),
        "p95_ms": _ms(pct(latencies, 95)),
        "p99_ms": _ms(pct(latencies, 99)),
        "max_ms": _ms(max(latencies, default=None)),
        "lost": lost,
        "duplicates": duplicates,
        "out_of_order_groups": out_of_order,
        "dlq": len(in_dlq[spec.dlqs[0]]),
        "dlq_expected": sum(1 for e in published if e.poison),
        "dlq_other": sum(len(v) for k, v in in_dlq.items() if k != spec.dlqs[0]),
        "valid_in_dlq": sum(1 for e in valid if e.in_dlq),
        "dlq_last_s": round(dlq_last - first, 1) if dlq_last else None,
        "drain_timeout_s": round(drain, 1),
        "poll_interval_ms": round(poller.interval * 1000),
        # While results were outstanding (the final consistent read included): the load
        # the measurement itself put on the endpoint.
        "poll_req_per_s": round(poller.requests / max(1e-9, poller.last_poll - first), 1),
        "poll_errors": len(poller.errors),
        "load_before": load_before,
        "load_after": load_avg(),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mode", choices=("burst", "steady"), default="burst")
    p.add_argument("--events", type=int, default=300, help="burst: events per path")
    p.add_argument("--rate", type=float, default=50.0, help="steady: events/s")
    p.add_argument("--duration", type=float, default=30.0, help="steady: seconds")
    p.add_argument("--paths", default=",".join(PATHS), help="comma-separated, run in turn")
    p.add_argument("--poison", type=float, default=0.02, help="fraction of poison events")
    p.add_argument("--groups", type=int, default=32, help="fifo: customers (message groups)")
    p.add_argument("--threads", type=int, default=8, help="publishing threads")
    p.add_argument("--poll-interval", dest="poll", type=float, default=0.25, metavar="SECONDS")
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wait for results and DLQ after publishing; default 180, extended with poison "
        "to maxReceiveCount x (VisibilityTimeout + 15) + 15 after the last result",
    )
    p.add_argument("--endpoint", help="default: Settings.endpoint_url (AWS_ENDPOINT_URL)")
    p.add_argument("--region")
    p.add_argument("--outputs", type=Path, help="default: Settings.outputs_file")
    p.add_argument("--own-resources", action="store_true", help="create, use, destroy a copy")
    p.add_argument("--json", action="store_true", help="also print one JSON line")
    args = p.parse_args(argv)
    args.paths = [x.strip() for x in args.paths.split(",") if x.strip()]
    if bad := [x for x in args.paths if x not in PATHS]:
        p.error(f"unknown path(s) {bad}; choose from {', '.join(PATHS)}")
    if not 0 <= args.poison < 1 or args.groups < 1 or args.threads < 1 or args.rate <= 0:
        p.error("need 0 <= --poison < 1 and positive --groups, --threads, --rate")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return bench(args)
    except (BotoCoreError, ClientError, SandboxError) as e:
        # Typically the endpoint went away mid-run (a shared sandbox restarted).
        print(f"pipeline benchmark aborted: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


def bench(args: argparse.Namespace) -> int:
    settings = load_settings()
    endpoint = args.endpoint or settings.endpoint_url
    region = args.region or settings.region
    sess = session(region)
    clients = {s: client(sess, s, endpoint, args.threads + 2) for s in ("sns", "events", "sqs")}
    clients["poll"] = client(sess, "dynamodb", endpoint)
    # Piped output (make bench | tee) gets a wide console; rich would squeeze it into 80.
    console = Console(width=None if sys.stdout.isatty() else 150)
    err = Console(stderr=True)
    rows = []
    probe = cpu_probe_ms()
    with topology(args.own_resources, args.outputs, endpoint, region) as out:
        if args.own_resources:
            wait_mappings(client(sess, "lambda", endpoint), out)
        ctx = Context(out, clients, args, uuid.uuid4().hex[:8])
        for path in args.paths:
            err.print(f"[bold]{path}[/] {args.mode} run {ctx.run} (load {load_avg()}) ...")
            rows.append(run_path(ctx, path))
            r = rows[-1]
            err.print(
                f"  p50 {r['p50_ms']} ms, lost {r['lost']}, DLQ {r['dlq']}/{r['dlq_expected']}"
            )
    what = (
        f"{args.events} events"
        if args.mode == "burst"
        else f"{args.rate:g}/s x {args.duration:g} s"
    )
    console.print(
        render(
            rows,
            f"pipeline {args.mode} ({what}) against {endpoint}, "
            f"{time.strftime('%Y-%m-%d %H:%M')}, CPU probe {probe} ms",
        )
    )
    if args.json:
        line = {
            "bench": "pipeline",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "endpoint": endpoint,
            "own_resources": args.own_resources,
            "poison": args.poison,
            "threads": args.threads,
            "cpu_probe_ms": probe,
            "runs": rows,
        }
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
