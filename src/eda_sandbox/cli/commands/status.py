"""``eda-sandbox status``: service states and live Lambda environments."""

from __future__ import annotations

import argparse
from typing import Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher


def add_parser(sub: Any, name: str) -> None:
    sub.add_parser(name, help="show service states")


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    settings = load_settings()
    state = launcher.status(settings)
    table = Table(title=f"sandbox at {settings.endpoint_url}")
    table.add_column("service")
    table.add_column("state")
    for name, value in state.services.items():
        colour = "green" if value in ("running", "available") else "red"
        table.add_row(name, f"[{colour}]{value}[/]")
    out = console.stdout()
    out.print(table if state.services else "no sandbox answers")
    records = sorted(settings.envs_dir.glob("*.json")) if settings.envs_dir.is_dir() else []
    envs = [r for r in records if not r.name.startswith("zygote-")]
    out.print(
        f"pid: {state.pid or '-'}   live Lambda environments: {len(envs)}   "
        f"runtime fork servers: {len(records) - len(envs)}"
    )
    return ExitStatus.SUCCESS if state.running else ExitStatus.NOT_RUNNING
