"""``eda-sandbox up [--apply TOPOLOGY]``: start the sandbox (a no-op if it runs)."""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import Settings, load_settings
from eda_sandbox.emulator import applied, launcher

if TYPE_CHECKING:
    from eda_sandbox.topology.__main__ import Prepared


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="start the sandbox (no-op if it runs)")
    parser.add_argument("--apply", metavar="TOPOLOGY", help="then apply this topology file")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    started = time.perf_counter()
    before = launcher.status(settings)
    prepared: Prepared | int | None = None
    if args.apply and not before.running:
        # LocalStack takes seconds to start, on one core; what the apply does before it
        # needs the sandbox (imports, loading and checking the topology, packaging) runs
        # meanwhile in this process, on the other core.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="start") as pool:
            starting = pool.submit(_start, settings, started)
            prepared = _prepare_apply(args.apply)
            state, took = starting.result()
    else:
        state, took = _start(settings, started)
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
    from eda_sandbox.topology.__main__ import execute

    if prepared is None:
        prepared = _prepare_apply(args.apply)
    if isinstance(prepared, int):
        return prepared
    code = execute(prepared)
    if code == 0:
        applied.remember_apply(settings, topology_file)
    return code


def _start(settings: Settings, started: float) -> tuple[launcher.SandboxStatus, float]:
    """Start the sandbox; what ``up`` reports is the start's own time, which packaging on
    a cold cache may outlast."""
    state = launcher.start(settings)
    return state, time.perf_counter() - started


def _prepare_apply(topology: str) -> Prepared | int:
    """The apply up to its first request (``topology.__main__.prepare``): the prepared
    command, or the exit status when the topology is invalid (its problems printed)."""
    from eda_sandbox.topology.__main__ import prepare

    return prepare(["apply", "--file", topology], package=True)
