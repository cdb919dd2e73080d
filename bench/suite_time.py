"""Time the test suite: `make test` with the sandbox already running, and from cold.

Targets on the 2-core machines: 60 s or less warm, 120 s or less from cold (start
included). Run from the repository root: `make bench-tests`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table


def run(cmd: list[str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    return time.perf_counter() - started, proc.returncode, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pytest-args", default="-q -p no:cacheprovider")
    args = parser.parse_args()
    test = ["make", "--no-print-directory", "test", f"PYTEST_ARGS={args.pytest_args}"]
    rows = []
    subprocess.run(["make", "--no-print-directory", "up"], check=True, capture_output=True)
    seconds, code, last = run(test)
    rows.append(("make test, sandbox running", seconds, "<= 60 s", code, last))
    subprocess.run(["make", "--no-print-directory", "down"], check=True, capture_output=True)
    seconds, code, last = run(test)
    rows.append(
        ("make test from cold (starts and stops the sandbox)", seconds, "<= 120 s", code, last)
    )
    table = Table(title=f"test suite time ({time.strftime('%Y-%m-%d')})")
    for column in ("run", "seconds", "target", "exit", "pytest summary"):
        table.add_column(column)
    for name, secs, target, rc, summary in rows:
        table.add_row(name, f"{secs:.1f}", target, str(rc), summary)
    Console().print(table)
    return max(r[3] for r in rows)


if __name__ == "__main__":
    sys.exit(main())
