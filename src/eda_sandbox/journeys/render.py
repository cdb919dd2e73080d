"""Journeys as people read them: a timeline tree (rich), one line per journey, plain text.

Each hop is one line: its time (clock and offset from the journey's start), what
happened and where, the ids that matter; a failure in red with its reason, a message a
filter or rule dropped in yellow with the key that failed.
"""

from __future__ import annotations

import io
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from eda_sandbox.journeys.model import Hop, HopKind, Journey

_LABELS: dict[HopKind, str] = {
    HopKind.PUBLISHED: "SNS publish",
    HopKind.FILTER_MATCHED: "filter matched",
    HopKind.FILTERED_OUT: "filtered out",
    HopKind.DELIVERED: "SNS delivered",
    HopKind.ENQUEUED: "SQS enqueue",
    HopKind.RECEIVED: "SQS receive",
    HopKind.VISIBILITY_EXPIRED: "visibility timeout expired",
    HopKind.DELETED: "SQS delete",
    HopKind.DEAD_LETTERED: "dead-lettered",
    HopKind.INVOKE_QUEUED: "Lambda async invoke",
    HopKind.INVOKED: "Lambda invoke",
    HopKind.RETRY_SCHEDULED: "retry scheduled",
    HopKind.ASYNC_SUCCEEDED: "async invoke succeeded",
    HopKind.ON_FAILURE: "on-failure destination",
    HopKind.PUT_EVENTS: "EventBridge PutEvents",
    HopKind.RULE_MATCHED: "rule matched",
    HopKind.RULE_NOT_MATCHED: "rule not matched",
    HopKind.TARGET_INVOKED: "target invoked",
}
_DROPPED = (HopKind.FILTERED_OUT, HopKind.RULE_NOT_MATCHED)
# Where an id first appears; the hops after it repeat it, so they leave it out.
_IDS_SHOWN = (HopKind.PUBLISHED, HopKind.ENQUEUED, HopKind.PUT_EVENTS, HopKind.INVOKE_QUEUED)


def clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


def facts(hop: Hop) -> str:
    """The ids and numbers of a hop worth a glance."""
    d: dict[str, Any] = hop.detail
    parts: list[str] = []
    if hop.kind == HopKind.INVOKED:
        parts.append("init" if d.get("init") else "warm")
        if "duration_ms" in d:
            parts.append(f"{d['duration_ms']} ms")
        if d.get("batch_size", 1) > 1:
            parts.append(f"batch of {d['batch_size']}")
        parts.append(f"request {d.get('request_id')}")
    elif hop.kind in (HopKind.RECEIVED, HopKind.VISIBILITY_EXPIRED, HopKind.DELETED):
        parts.append(f"receive #{d.get('receive_count')}")
        if d.get("receiver"):
            parts.append(f"by {d['receiver']}")
    elif hop.kind == HopKind.DEAD_LETTERED and d.get("receive_count") is not None:
        parts.append(f"after {d['receive_count']} receives")
    elif hop.kind == HopKind.RETRY_SCHEDULED:
        parts.append(f"attempt {d.get('attempt')} in {d.get('delay_seconds')} s")
    elif hop.kind == HopKind.PUT_EVENTS:
        parts.append(f"{d.get('source')} / {d.get('detail_type')}")
    if hop.kind == HopKind.PUBLISHED and d.get("attributes"):
        attributes = d["attributes"]
        parts.append(" ".join(f"{k}={v}" for k, v in sorted(attributes.items())))
    for name in ("message_id", "event_id"):
        if d.get(name) and hop.kind in _IDS_SHOWN:
            parts.append(f"{name.replace('_', ' ')} {d[name]}")
            break
    return ", ".join(str(p) for p in parts)


def hop_line(hop: Hop, start: float) -> str:
    """One hop as rich markup: time, offset, what, where, facts, and the reason."""
    label = _LABELS.get(hop.kind, str(hop.kind))
    colour = "red" if hop.failed else "yellow" if hop.kind in _DROPPED else "green"
    line = f"[dim]{clock(hop.at)} +{hop.at - start:7.3f}s[/] [{colour}]{label}[/] "
    line += f"[bold]{escape(hop.resource)}[/]"
    if text := facts(hop):
        line += f" [dim]({escape(text)})[/]"
    if hop.reason:
        line += f" [{colour}]{escape(hop.reason)}[/]"
    return line


def status(journey: Journey) -> str:
    state = "settled" if journey.settled else f"in flight: {', '.join(sorted(journey.in_flight))}"
    return ("[red]failed[/], " if journey.failed else "") + state


def tree(journey: Journey) -> Tree:
    """A journey as a timeline tree: hops in time order under one root."""
    ids = f"trace {journey.trace_id}" if journey.trace_id else f"journey {journey.id}"
    if journey.correlation_ids:
        ids += f", correlation {', '.join(sorted(journey.correlation_ids))}"
    root = Tree(f"[bold]{escape(ids)}[/] [dim]({status(journey)})[/]")
    start = journey.started
    for hop in journey.ordered():
        root.add(hop_line(hop, start))
    if journey.dropped_hops:
        root.add(f"[yellow]... {journey.dropped_hops} more hops not kept[/]")
    return root


def summary_line(journey: Journey) -> str:
    """One journey on one line (``trace --last``)."""
    hops = journey.ordered()
    first = hops[0] if hops else None
    what = f"{_LABELS.get(first.kind, first.kind)} {first.resource}" if first else "-"
    last = hops[-1] if hops else None
    end = f"{_LABELS.get(last.kind, last.kind)} {last.resource}" if last else "-"
    colour = "red" if journey.failed else "green" if journey.settled else "yellow"
    when = clock(first.at) if first else "-"
    cids = ",".join(sorted(journey.correlation_ids)) or "-"
    return (
        f"[dim]{when}[/] [{colour}]{escape(journey.trace_id or journey.id)}[/] "
        f"{escape(what)} -> {escape(end)} [dim]({len(hops)} hops, correlation {escape(cids)})[/]"
    )


def as_text(journeys: list[Journey], width: int = 140) -> str:
    """Journeys as plain text (a pytest failure report has no colours)."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    for journey in journeys:
        console.print(tree(journey))
    return out.getvalue()
