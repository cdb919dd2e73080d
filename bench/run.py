"""`make bench`: every benchmark, one after another, each printing its own table.

The sandbox must be up (`make up`). The Lambda benchmark starts a private sandbox on
another port; the others use the running one and their own uniquely named resources.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS: list[list[str]] = [
    [
        "lambda_bench.py",
        "--runtime",
        "python3.12",
        "--runtime",
        "nodejs22.x",
        "--runtime",
        "nodejs20.x",
    ],
    ["topology_apply.py"],
    ["pipeline.py", "--mode", "burst", "--events", "300"],
    ["pipeline.py", "--mode", "steady", "--rate", "50", "--duration", "30"],
]


def main() -> int:
    worst = 0
    for args in RUNS:
        print(f"\n=== bench/{' '.join(args)}", flush=True)
        worst = max(worst, subprocess.call([sys.executable, str(HERE / args[0]), *args[1:]]))
    return worst


if __name__ == "__main__":
    sys.exit(main())
