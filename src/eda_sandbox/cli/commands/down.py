"""``eda-sandbox down``: stop the sandbox and every process it started."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="stop the sandbox and every process it started")
    parser.add_argument(
        "--forget",
        action="store_true",
        help="also delete the persisted state (EDA_SANDBOX_PERSIST=1): the next up starts empty",
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    stopped = launcher.stop(settings)
    if stopped:
        console.stderr().print(f"[green]sandbox stopped[/] (process groups {stopped})")
    else:
        console.stderr().print("sandbox was not running")
    if getattr(args, "forget", False) and settings.persist_dir.exists():
        # Only after the stop: a running sandbox would write its snapshots again.
        shutil.rmtree(settings.persist_dir)
        console.stderr().print(f"persisted state removed ({settings.persist_dir})")
    return ExitStatus.SUCCESS
