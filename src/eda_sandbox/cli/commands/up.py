"""``eda-sandbox up [--apply TOPOLOGY]``: start the sandbox (a no-op if it runs)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.emulator import applied, launcher


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="start the sandbox (no-op if it runs)")
    parser.add_argument("--apply", metavar="TOPOLOGY", help="then apply this topology file")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    started = time.perf_counter()
    before = launcher.status(settings)
    state = launcher.start(settings)
    took = time.perf_counter() - started
    verb = "already running" if before.running else "ready"
    console.stderr().print(
        f"[green]sandbox {verb}[/] at {settings.endpoint_url} "
        f"(pid {state.pid}, {took:.2f}s); logs: {settings.log_file}"
    )
    if not args.apply:
        return ExitStatus.SUCCESS
    topology_file = Path(args.apply).resolve()
    if before.running and applied.unchanged_since_last_apply(settings, topology_file):
        console.stderr().print(
            f"0 changed: {args.apply} and its functions are unchanged since the last apply "
            "to this sandbox (`make bootstrap` re-converges and repairs drift)"
        )
        return ExitStatus.SUCCESS
    # In this process: a second interpreter start would cost more than the apply.
    from eda_sandbox.topology.__main__ import main as topology_main

    code = topology_main(["apply", "--file", str(args.apply)])
    if code == 0:
        applied.remember_apply(settings, topology_file)
    return code
