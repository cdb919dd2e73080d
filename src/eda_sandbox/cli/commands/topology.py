"""``eda-sandbox topology ...``: the topology engine's own CLI (plan, apply, destroy, ...).

``main`` hands every argument after ``topology`` to ``python -m eda_sandbox.topology``'s
parser; this parser entry exists so ``--help`` lists the command.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any, name: str) -> None:
    sub.add_parser(name, help="plan, apply or destroy the topology (see: topology --help)")


def run(args: argparse.Namespace) -> int:
    from eda_sandbox.topology.__main__ import main as topology_main

    return topology_main(["--help"])
