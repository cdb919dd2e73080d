"""Sandbox start-up and Lambda latency, on a private sandbox (its own port and state).

Measures: time from start to every service ready; Lambda cold start (first invoke of a
new environment; the handler imports boto3); warm invoke p50/p95. Prints a table.

    .venv/bin/python bench/lambda_bench.py [--port 4599] [--cold 10] [--warm 300]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
from rich.console import Console
from rich.table import Table

from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher

HANDLER = """
import boto3

def handler(event, context):
    return {"ok": True}
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def zipped() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", HANDLER)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4599)
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--runtime", default="python3.12")
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
    try:
        client = boto3.client(
            "lambda",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        code = zipped()
        cold: list[float] = []
        for i in range(args.cold):
            name = f"bench-cold-{i}"
            client.create_function(
                FunctionName=name,
                Runtime=args.runtime,
                Handler="app.handler",
                Role="arn:aws:iam::000000000000:role/bench",
                Code={"ZipFile": code},
            )
            client.get_waiter("function_active_v2").wait(FunctionName=name)
            t0 = time.perf_counter()
            resp = client.invoke(FunctionName=name, Payload=b"{}")
            cold.append((time.perf_counter() - t0) * 1000)
            assert "FunctionError" not in resp, resp["Payload"].read()
        warm: list[float] = []
        name = "bench-cold-0"
        for _ in range(20):  # settle the connection pools
            client.invoke(FunctionName=name, Payload=b"{}")
        for _ in range(args.warm):
            t0 = time.perf_counter()
            client.invoke(FunctionName=name, Payload=json.dumps({"x": 1}).encode())
            warm.append((time.perf_counter() - t0) * 1000)
        rows += [
            (f"cold start p50 ({args.runtime}, imports boto3)", f"{statistics.median(cold):.0f} ms",
             "<= 250 ms"),
            ("cold start max", f"{max(cold):.0f} ms", ""),
            ("warm invoke p50", f"{pct(warm, 50):.1f} ms", "<= 8 ms"),
            ("warm invoke p95", f"{pct(warm, 95):.1f} ms", ""),
        ]  # fmt: skip
    finally:
        launcher.stop(settings)
    table = Table(title=f"Lambda on the embedded sandbox ({time.strftime('%Y-%m-%d')})")
    for column in ("measure", "result", "target"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    print(json.dumps({"rows": rows, "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
