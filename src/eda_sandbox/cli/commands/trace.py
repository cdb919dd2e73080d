"""``eda-sandbox trace ID``: where an event went, hop by hop, from the sandbox's journeys.

ID is a message id, request id, EventBridge event id, trace id or correlation id.
``--json`` prints the journeys as the endpoint serves them; ``--last N`` one line per
recent journey; ``--follow`` prints hops as they happen (of ID's journeys, or of all).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.journeys.client import JourneyClient
from eda_sandbox.journeys.model import Journey

FOLLOW_INTERVAL = 0.5


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="follow one event: its journey from producer to consumer or DLQ",
        description=__doc__,
    )
    parser.add_argument("id", nargs="?", help="message, request, event, trace or correlation id")
    parser.add_argument("--json", action="store_true", help="print the journeys as JSON")
    parser.add_argument("--last", type=int, metavar="N", help="the last N journeys, one line each")
    parser.add_argument("--follow", action="store_true", help="print hops live as they arrive")
    parser.add_argument(
        "--otlp",
        metavar="FILE",
        help="also write the journeys as OTLP JSON (and send them to OTEL_EXPORTER_OTLP_ENDPOINT)",
    )


def run(args: argparse.Namespace) -> int:
    from eda_sandbox.journeys import render

    client = JourneyClient(load_settings().endpoint_url)
    out = console.stdout()
    if args.follow:
        return _follow(client, args.id, args.json)
    if args.last is not None or args.id is None:
        journeys = client.last(args.last or 20)
        if args.json:
            print(json.dumps([j.to_json() for j in journeys], indent=2))
        for journey in [] if args.json else journeys:
            out.print(render.summary_line(journey), highlight=False)
        return ExitStatus.SUCCESS
    journeys = client.find(args.id)
    if args.otlp and journeys:
        from pathlib import Path

        from eda_sandbox.journeys import otel

        otel.write_otlp_json(journeys, Path(args.otlp))
        otel.export(journeys)
    if args.json:
        print(json.dumps([j.to_json() for j in journeys], indent=2))
    elif not journeys:
        console.stderr().print(f"no journey found for {args.id!r}")
    for journey in [] if args.json else journeys:
        out.print(render.tree(journey), highlight=False)
    return ExitStatus.SUCCESS if journeys else ExitStatus.NOT_RUNNING


def _follow(client: JourneyClient, key: str | None, as_json: bool) -> int:
    from eda_sandbox.journeys import render

    out = console.stdout()
    shown: dict[str, int] = {}
    seq = client.seq()
    try:
        while True:
            seq, changed = client.since(seq)
            for journey in changed:
                if key is not None and not _concerns(journey, key):
                    continue
                hops = journey.ordered()
                for hop in hops[shown.get(journey.id, 0) :]:
                    if as_json:
                        print(json.dumps({"journey": journey.id, **hop.to_json()}), flush=True)
                    else:
                        out.print(
                            f"[dim]{journey.trace_id or journey.id}[/] "
                            + render.hop_line(hop, journey.started),
                            highlight=False,
                        )
                shown[journey.id] = len(hops)
            time.sleep(FOLLOW_INTERVAL)  # a viewer polling the sandbox, not a test waiting
    except KeyboardInterrupt:
        return ExitStatus.SUCCESS


def _concerns(journey: Journey, key: str) -> bool:
    return key in journey.keys or key in journey.correlation_ids or key == journey.id
