"""``eda-sandbox down``: stop the sandbox and every process it started."""

from __future__ import annotations

import argparse
from typing import Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher


def add_parser(sub: Any, name: str) -> None:
    sub.add_parser(name, help="stop the sandbox and every process it started")


def run(args: argparse.Namespace) -> int:
    stopped = launcher.stop(load_settings())
    if stopped:
        console.stderr().print(f"[green]sandbox stopped[/] (process groups {stopped})")
    else:
        console.stderr().print("sandbox was not running")
    return ExitStatus.SUCCESS
