"""Sandbox start-up and Lambda latency, on a private sandbox (its own port and state).

Measures: time from start to every service ready; Lambda cold start (first invoke of a
new environment; the handler imports boto3, or for Node.js requires the runtime's
@aws-sdk/client-dynamodb); warm invoke p50/p95. Prints a table with the CPU probe.

    .venv/bin/python bench/lambda_bench.py [--port 4599] [--cold 10] [--warm 300]
        [--runtime python3.12 --runtime nodejs22.x ...]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from _common import cpu_probe_ms, load_avg
from rich.console import Console
from rich.table import Table

from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher

HANDLER = """
import boto3

def handler(event, context):
    return {"ok": True}
"""
NODE_HANDLER = """
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');

exports.handler = async (event, context) => ({ ok: true });
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def zipped(runtime: str) -> tuple[bytes, str]:
    """The function's zip and its handler name."""
    buf = io.BytesIO()
    node = runtime.startswith("nodejs")
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.js" if node else "app.py", NODE_HANDLER if node else HANDLER)
    return buf.getvalue(), "index.handler" if node else "app.handler"


def cold_starts(client: Any, runtime: str, cold_runs: int) -> tuple[str, list[float]]:
    """Cold start times of new functions; returns the first one's name for warm runs."""
    code, handler = zipped(runtime)
    cold: list[float] = []
    for i in range(cold_runs):
        name = f"bench-cold-{runtime.replace('.', '-')}-{i}"
        client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=handler,
            Role="arn:aws:iam::000000000000:role/bench",
            Code={"ZipFile": code},
        )
        client.get_waiter("function_active_v2").wait(FunctionName=name)
        t0 = time.perf_counter()
        resp = client.invoke(FunctionName=name, Payload=b"{}")
        body = resp["Payload"].read()
        cold.append((time.perf_counter() - t0) * 1000)
        assert "FunctionError" not in resp, body
    return f"bench-cold-{runtime.replace('.', '-')}-0", cold


def warm_invokes(client: Any, functions: dict[str, str], warm_runs: int) -> dict[str, list[float]]:
    """Warm invoke times per runtime, round robin: one invoke of each in turn, so a
    change in the host's load falls on every runtime alike (no order effect)."""
    for name in functions.values():
        for _ in range(20):  # settle the connection pools
            client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    warm: dict[str, list[float]] = {runtime: [] for runtime in functions}
    payload = json.dumps({"x": 1}).encode()
    for _ in range(warm_runs):
        for runtime, name in functions.items():
            t0 = time.perf_counter()
            # Read the payload, as callers do: an unread body keeps its connection out
            # of the pool, so the next call would pay a new TCP connection.
            client.invoke(FunctionName=name, Payload=payload)["Payload"].read()
            warm[runtime].append((time.perf_counter() - t0) * 1000)
    return warm


def rows_of(runtime: str, cold: list[float], warm: list[float]) -> list[tuple[str, str, str]]:
    node = runtime.startswith("nodejs")
    loads = "requires @aws-sdk/client-dynamodb" if node else "imports boto3"
    return [
        (f"cold start p50 ({runtime}, {loads})", f"{statistics.median(cold):.0f} ms", "<= 250 ms"),
        (f"cold start max ({runtime})", f"{max(cold):.0f} ms", ""),
        (
            f"warm invoke p50 ({runtime})",
            f"{pct(warm, 50):.1f} ms",
            "<= 5 ms" if node else "<= 8 ms",
        ),
        (f"warm invoke p95 ({runtime})", f"{pct(warm, 95):.1f} ms", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4599)
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--runtime", action="append", help="repeatable (default: python3.12)")
    args = parser.parse_args()

    shared = load_settings()
    state = Path(tempfile.mkdtemp(prefix="eda-bench-"))
    env = {
        **os.environ,
        "EDA_SANDBOX_PORT": str(args.port),
        "EDA_SANDBOX_STATE_DIR": str(state),
        "EDA_SANDBOX_RUNTIMES_DIR": str(shared.runtimes_dir),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    settings = load_settings(env)
    os.environ.update({k: v for k, v in env.items() if k.startswith("EDA_SANDBOX_")})
    started = time.perf_counter()
    launcher.start(settings)
    ready = time.perf_counter() - started
    rows: list[tuple[str, str, str]] = [("start to ready", f"{ready * 1000:.0f} ms", "<= 3000 ms")]
    rows.append(("CPU probe / load", f"{cpu_probe_ms()} ms / {load_avg()}", ""))
    try:
        client = boto3.client(
            "lambda",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        runtimes = args.runtime or ["python3.12"]
        functions: dict[str, str] = {}
        colds: dict[str, list[float]] = {}
        for runtime in runtimes:
            functions[runtime], colds[runtime] = cold_starts(client, runtime, args.cold)
        warm = warm_invokes(client, functions, args.warm)
        for runtime in runtimes:
            rows += rows_of(runtime, colds[runtime], warm[runtime])
    finally:
        launcher.stop(settings)
        shutil.rmtree(state, ignore_errors=True)  # its private state folder, in /tmp
    table = Table(title=f"Lambda on the embedded sandbox ({time.strftime('%Y-%m-%d')})")
    for column in ("measure", "result", "target"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    print(json.dumps({"rows": rows, "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
