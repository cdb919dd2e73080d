"""One run of one path: publish the events, wait for every result and DLQ message, count.

Latency = result write time - time just before the publish call. The reference handlers
stamp ``written_at`` (their clock, epoch seconds) on each result, so latency is exact on
one machine and the poller (BatchGetItem every --poll-interval) only finds finished
events. For handlers without the stamp it falls back to the middle of the interval in
which an item first appeared (error about +-interval/2 plus one round trip). The poll
load is reported (requests/s).

After publishing, the run waits (bounded by --drain-timeout) for every result and for
every poison event in the DLQ. SQS paths dead-letter only on the receive after the
maxReceiveCount-th, each a VisibilityTimeout (+ the event source's idle backoff) apart, so
with poison the default wait grows to cover that. "lost" counts events with neither a
result nor a DLQ message when the wait ended; ``drain_timed_out`` says whether it ended
by the deadline.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from _common import BenchEvent, PathSpec, PublishStats, load_avg, pct, publish, sweep_dlq
from _modes import SPECS, make_events, make_sender, make_units
from _poller import Poller, seqs_of

from eda_sandbox.topology import Outputs

DLQ_SWEEP_EVERY = 2.0  # seconds; DLQ arrival takes minutes, no need to sweep faster
DLQ_SLACK = 15.0  # seconds of slack for polling and invocations (as the tests use)
# An idle LocalStack event source mapping backs off between empty polls up to
# LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC (10 s) x 1.5 jitter, and a
# poison message waits for that once per redelivery: observed DLQ arrival was past
# 3 x 61 s + 15 s.
ESM_EMPTY_BACKOFF = 15.0


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
