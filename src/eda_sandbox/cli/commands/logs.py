"""``eda-sandbox logs [-f] [-n N]``: LocalStack's log."""

from __future__ import annotations

import argparse
import subprocess
from typing import Any

from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="show LocalStack's log")
    parser.add_argument("-f", "--follow", action="store_true")
    parser.add_argument("-n", "--lines", type=int, default=100)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.follow:
        # tail -F is what users expect here; it is a viewer, not part of the sandbox.
        return subprocess.call(["tail", "-n", str(args.lines), "-F", str(settings.log_file)])
    print(launcher.tail(settings, args.lines))
    return ExitStatus.SUCCESS
