"""``eda-sandbox dlq list|show QUEUE|redrive QUEUE [--to SOURCE]|purge QUEUE``.

``show`` gives each message's receive count, original source and reason (from the
journey that dead-lettered it, or the error attributes EventBridge and SNS attach).
``redrive`` is SQS's StartMessageMoveTask, with its progress; ``purge`` asks first.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.dlq.operations import DeadLetter, DeadLetterQueues
from eda_sandbox.errors import JourneyQueryError
from eda_sandbox.journeys.client import JourneyClient
from eda_sandbox.journeys.model import HopKind


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="inspect, redrive and purge dead-letter queues")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="every DLQ with its message count, oldest age and sources")
    show = verbs.add_parser("show", help="the messages of a DLQ, with their reasons")
    show.add_argument("queue")
    show.add_argument("-n", "--limit", type=int, default=10)
    redrive = verbs.add_parser("redrive", help="move the messages back (StartMessageMoveTask)")
    redrive.add_argument("queue")
    redrive.add_argument("--to", help="destination queue (default: each message's source)")
    purge = verbs.add_parser("purge", help="delete every message (asks first)")
    purge.add_argument("queue")
    purge.add_argument("-y", "--yes", action="store_true", help="do not ask")


def run(args: argparse.Namespace) -> int:
    import boto3
    from rich.table import Table

    settings = load_settings()
    sqs = boto3.session.Session(region_name=settings.region).client(
        "sqs", endpoint_url=settings.endpoint_url
    )
    queues = DeadLetterQueues(sqs)
    out, err = console.stdout(), console.stderr()
    if args.verb == "list":
        table = Table(title="dead-letter queues")
        for column in ("queue", "messages", "oldest", "sources"):
            table.add_column(column)
        for q in queues.list_queues():
            colour = "red" if q.messages else "green"
            table.add_row(
                q.name,
                f"[{colour}]{q.messages}[/]",
                _age(q.oldest_age, q.messages),
                ", ".join(q.sources) or "-",
            )
        out.print(table)
    elif args.verb == "show":
        journeys = JourneyClient(settings.endpoint_url, timeout=2.0)
        table = Table(title=args.queue)
        for column in ("message id", "receives", "source", "age", "reason"):
            table.add_column(column)
        for m in queues.show(args.queue, args.limit):
            source = (m.source_arn or "-").rsplit(":", 1)[-1]
            age = f"{time.time() - m.sent_at:.0f} s"
            table.add_row(m.message_id, str(m.receive_count), source, age, _reason(m, journeys))
        out.print(table)
    elif args.verb == "redrive":
        for progress in queues.redrive(args.queue, args.to):
            total = "?" if progress.to_move is None else progress.to_move
            err.print(f"redrive {args.queue}: {progress.status} {progress.moved}/{total}")
    elif args.verb == "purge":
        asked = args.yes or (lambda q: console.stdout().input(f"purge {q}? [y/N] ") == "y")
        if not queues.purge(args.queue, (lambda _q: True) if args.yes else asked):
            err.print("not purged")
            return ExitStatus.NOT_RUNNING
        err.print(f"[green]purged[/] {args.queue}")
    return ExitStatus.SUCCESS


def _age(seconds: float | None, messages: int) -> str:
    """``12 s``, ``3 min``, ``2.5 h``; ``-`` for an empty queue, ``?`` when unknown."""
    if seconds is None:
        return "?" if messages else "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _reason(message: DeadLetter, journeys: JourneyClient) -> str:
    if code := message.attributes.get("ERROR_CODE"):
        return f"{code}: {message.attributes.get('ERROR_MESSAGE', '')}"
    try:
        found = journeys.find(message.message_id)
    except JourneyQueryError:
        return "-"
    hops = [h for j in found for h in j.hops if h.kind == HopKind.DEAD_LETTERED]
    return hops[-1].reason or "-" if hops else "-"
