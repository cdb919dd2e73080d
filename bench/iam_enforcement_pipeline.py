"""IAM enforcement on vs off for the reference pipeline: CPU per event and latency, A/B.

Each round restarts the sandbox (this worktree's, on its own port) once with
``EDA_SANDBOX_ENFORCE_IAM=0`` and once with ``=1`` (alternating which goes first), warms
the Lambda environments with a small burst, then runs ``pipeline.py --mode steady`` and
counts the CPU seconds that LocalStack and every process it started (the DynamoDB
process, the functions' runtimes) spent during the run. With enforcement each function
call is checked, and the consumers' DynamoDB calls go through LocalStack's gateway
instead of straight to the DynamoDB process, so both costs are in the figure.

    .venv/bin/python bench/iam_enforcement_pipeline.py [--rounds 2] [--rate 50]
        [--duration 20] [--paths sns-sqs]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from _common import REPO, cpu_probe_ms, load_avg

from eda_sandbox.config import load_settings


def _cpu_seconds(pid: int) -> float:
    """CPU of ``pid`` and every process below it (the processes that exit during the
    run are not counted; the sandbox's live on)."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _make(target: str, enforce: bool) -> None:
    env = {**os.environ, "EDA_SANDBOX_ENFORCE_IAM": "1" if enforce else "0"}
    subprocess.run(["make", target], cwd=REPO, env=env, check=True, capture_output=True)


def _pipeline(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).with_name("pipeline.py")), "--json",
           "--paths", args.paths, *extra]  # fmt: skip
    out = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True).stdout
    line = next(x for x in reversed(out.splitlines()) if x.startswith("{"))
    runs: list[dict[str, Any]] = json.loads(line)["runs"]
    return runs[0]


def measure(args: argparse.Namespace, enforce: bool) -> dict[str, Any]:
    _make("down", enforce)
    _make("up", enforce)
    _pipeline(args, ["--mode", "burst", "--events", "40"])  # starts the environments
    pid = int(load_settings().pid_file.read_text().split()[0])
    before = _cpu_seconds(pid)
    run = _pipeline(
        args, ["--mode", "steady", "--rate", str(args.rate), "--duration", str(args.duration)]
    )
    cpu = _cpu_seconds(pid) - before
    return {
        "enforce": enforce,
        "cpu_ms_per_event": round(cpu / max(1, run["published"]) * 1000, 2),
        "p50_ms": run["p50_ms"],
        "p95_ms": run["p95_ms"],
        "lost": run["lost"],
        "dlq": f"{run['dlq']}/{run['dlq_expected']}",
        "load": load_avg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--paths", default="sns-sqs")
    args = parser.parse_args()
    probe = cpu_probe_ms()
    rows = []
    for n in range(args.rounds):
        for enforce in (False, True) if n % 2 == 0 else (True, False):
            rows.append(measure(args, enforce))
            print(json.dumps(rows[-1]), flush=True)
    _make("down", False)
    ratios = []
    for pair in zip(rows[0::2], rows[1::2], strict=True):
        by_mode = {r["enforce"]: r["cpu_ms_per_event"] for r in pair}
        ratios.append(by_mode[True] / by_mode[False])
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} CPU probe {probe} -> {cpu_probe_ms()} ms; "
        f"{args.paths} steady {args.rate}/s for {args.duration}s; CPU per event on/off "
        f"{statistics.median(ratios):.2f} (rounds {', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
