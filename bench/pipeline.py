"""End-to-end benchmark of the reference system's paths, against any AWS-compatible endpoint.

What each path and mode sends is in _modes.py, how one run is measured in _measure.py,
and how it is shown in _report.py. A fraction of the events is poison (sku POISON,
rejected by the handlers) and must end in the path's DLQ.

    .venv/bin/python bench/pipeline.py [--mode burst|steady] [--events 300]
        [--rate 50 --duration 30] [--paths sns-sqs,eventbridge,fifo,sns-sqs-node] [--poison 0.02]
        [--endpoint URL] [--outputs FILE | --own-resources] [--drain-timeout 180] [--json]

Without --own-resources it uses an applied topology (.sandbox/outputs.json, or
--outputs); every id carries a fresh run id, so earlier items and DLQ messages are never
counted (our DLQ messages are deleted once counted; others' are left as they were).
--own-resources applies a copy of infra/topology.yaml under a unique suffix and destroys
it afterwards, so it works against an endpoint that has none of our topology.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from _common import client, cpu_probe_ms, load_avg, session
from _measure import Context, run_path
from _modes import MODES, PATHS
from _report import json_line, render, title
from _resources import topology, wait_mappings
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from eda_sandbox.config import load_settings
from eda_sandbox.errors import SandboxError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mode", choices=MODES, default="burst")
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
    if args.own_resources and args.outputs:
        p.error("--outputs names an applied topology; --own-resources applies its own")
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
    console.print(render(rows, title(args, endpoint, probe)))
    if args.json:
        print(json.dumps(json_line(args, endpoint, probe, rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
