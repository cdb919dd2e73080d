"""``eda-sandbox``: start, stop and inspect the sandbox; build runtimes; apply the topology."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eda_sandbox import applied, launcher, runtimes
from eda_sandbox.config import load_settings
from eda_sandbox.errors import SandboxError

console = Console(stderr=True)


def _cmd_up(args: argparse.Namespace) -> int:
    settings = load_settings()
    started = time.perf_counter()
    before = launcher.status(settings)
    state = launcher.start(settings)
    took = time.perf_counter() - started
    verb = "already running" if before.running else "ready"
    console.print(
        f"[green]sandbox {verb}[/] at {settings.endpoint_url} "
        f"(pid {state.pid}, {took:.2f}s); logs: {settings.log_file}"
    )
    if args.apply:
        topology_file = Path(args.apply).resolve()
        if before.running and applied.unchanged_since_last_apply(settings, topology_file):
            console.print(
                f"0 changed: {args.apply} and its functions are unchanged since the last apply "
                "to this sandbox (`make bootstrap` re-converges and repairs drift)"
            )
            return 0
        # In this process: a second interpreter start would cost more than the apply.
        from eda_sandbox.topology.__main__ import main as topology_main

        code = topology_main(["apply", "--file", str(args.apply)])
        if code == 0:
            applied.remember_apply(settings, topology_file)
        return code
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    settings = load_settings()
    stopped = launcher.stop(settings)
    if stopped:
        console.print(f"[green]sandbox stopped[/] (process groups {stopped})")
    else:
        console.print("sandbox was not running")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    state = launcher.status(settings)
    table = Table(title=f"sandbox at {settings.endpoint_url}")
    table.add_column("service")
    table.add_column("state")
    for name, value in state.services.items():
        colour = "green" if value in ("running", "available") else "red"
        table.add_row(name, f"[{colour}]{value}[/]")
    Console().print(table if state.services else "no sandbox answers")
    records = sorted(settings.envs_dir.glob("*.json")) if settings.envs_dir.is_dir() else []
    envs = [r for r in records if not r.name.startswith("zygote-")]
    Console().print(
        f"pid: {state.pid or '-'}   live Lambda environments: {len(envs)}   "
        f"runtime fork servers: {len(records) - len(envs)}"
    )
    return 0 if state.running else 1


def _cmd_logs(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.follow:
        # tail -F is what users expect here; it is a viewer, not part of the sandbox.
        return subprocess.call(["tail", "-n", str(args.lines), "-F", str(settings.log_file)])
    print(launcher.tail(settings, args.lines))
    return 0


def _cmd_runtimes(args: argparse.Namespace) -> int:
    settings = load_settings()
    wanted = args.runtime or runtimes.available_runtimes()
    for runtime in wanted:
        started = time.perf_counter()
        env = runtimes.build(settings.runtimes_dir, runtime, force=args.force)
        console.print(f"runtime {runtime}: {env.python} ({time.perf_counter() - started:.1f}s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eda-sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the sandbox (no-op if it runs)")
    up.add_argument("--apply", metavar="TOPOLOGY", help="then apply this topology file")
    up.set_defaults(func=_cmd_up)
    sub.add_parser("down", help="stop the sandbox and every process it started").set_defaults(
        func=_cmd_down
    )
    sub.add_parser("status", help="show service states").set_defaults(func=_cmd_status)
    logs = sub.add_parser("logs", help="show LocalStack's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=100)
    logs.set_defaults(func=_cmd_logs)
    rts = sub.add_parser("runtimes", help="build the local Lambda runtime environments")
    rts.add_argument(
        "runtime", nargs="*", help="e.g. python3.12 (default: all with an interpreter)"
    )
    rts.add_argument("--force", action="store_true")
    rts.set_defaults(func=_cmd_runtimes)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SandboxError as e:
        console.print(f"[red]error:[/] {e}")
        return 2
    return code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
