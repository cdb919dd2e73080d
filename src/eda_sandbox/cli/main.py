"""``eda-sandbox``: start, stop and inspect the sandbox; build runtimes; apply the topology."""

from __future__ import annotations

import argparse
import os
import sys

from eda_sandbox.cli import console
from eda_sandbox.cli.commands import COMMANDS
from eda_sandbox.cli.status import ExitStatus
from eda_sandbox.errors import SandboxError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eda-sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_parser(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The topology CLI has its own parser; hand it everything after the command name.
    if argv[:1] == ["topology"]:
        from eda_sandbox.topology.__main__ import main as topology_main

        return topology_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command].run(args))
    except SandboxError as e:
        console.stderr().print(f"[red]error:[/] {e}")
        return ExitStatus.ERROR


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
