"""``eda-sandbox runtimes [RUNTIME ...] [--force]``: build the Lambda runtime environments."""

from __future__ import annotations

import argparse
import time
from typing import Any

from eda_sandbox.cli import console
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.config import load_settings
from eda_sandbox.executor import runtimes


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="build the local Lambda runtime environments")
    parser.add_argument(
        "runtime",
        nargs="*",
        help="e.g. python3.12, nodejs22.x (default: every one this machine can build)",
    )
    parser.add_argument("--force", action="store_true")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    for runtime in args.runtime or runtimes.available_runtimes():
        started = time.perf_counter()
        env = runtimes.build(settings.runtimes_dir, runtime, force=args.force)
        took = time.perf_counter() - started
        console.stderr().print(f"runtime {runtime}: {env.executable} ({took:.1f}s)")
    return ExitStatus.SUCCESS
