"""What ``EDA_SANDBOX_PERSIST=1`` costs: the pipeline with persistence on and off, and
the CPU of one snapshot by state size.

Pipeline: two private sandboxes side by side (own ports, own state folders under
``.sandbox/bench-persist/``), one with persistence and one without, both with
infra/topology.yaml applied; ``pipeline.py --mode burst --paths sns-sqs`` runs against
each in turn, the order alternating per round, so both see the same host (which is
shared with other work: read the ratios, not the absolute figures).

Each run also reports the CPU time the sandbox's processes (LocalStack, the DynamoDB
process, the Lambda environments) spent per processed event, which a busy host moves
far less than throughput.

Snapshot: LocalStack's SQS store with N queued messages and moto's DynamoDB with N
items, encoded as persistence/ does each second after a change (process CPU time).

    .venv/bin/python bench/persist_cost.py [--rounds 3] [--events 300] [--skip-pipeline]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from _common import cpu_probe_ms, load_avg

from eda_sandbox.config import load_settings

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def _env(side: str, port: int) -> dict[str, str]:
    state = load_settings().state_dir / "bench-persist" / side
    return {
        **os.environ,
        "EDA_SANDBOX_PORT": str(port),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "EDA_SANDBOX_STATE_DIR": str(state),
        "EDA_SANDBOX_RUNTIMES_DIR": str(load_settings().runtimes_dir),
        "EDA_SANDBOX_PERSIST": "1" if side == "on" else "0",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "eda_sandbox", *args], env=env, check=True)


def _sandbox_cpu(env: dict[str, str]) -> float:
    """CPU seconds of the sandbox's process tree so far (exited children included)."""
    pid = int(Path(env["EDA_SANDBOX_STATE_DIR"], "localstack.pid").read_text().split()[0])
    root = psutil.Process(pid)
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            t = child.cpu_times()
            total += t.user + t.system
    return float(total)


def _pipeline(env: dict[str, str], events: int) -> dict[str, Any]:
    state = Path(env["EDA_SANDBOX_STATE_DIR"])
    cpu_before = _sandbox_cpu(env)
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "pipeline.py"),
            "--mode=burst",
            f"--events={events}",
            "--paths=sns-sqs",
            f"--endpoint={env['AWS_ENDPOINT_URL']}",
            f"--outputs={state / 'outputs.json'}",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = [x for x in done.stdout.splitlines() if x.startswith('{"bench"')][-1]
    run: dict[str, Any] = json.loads(line)["runs"][0]
    run["cpu_ms_per_event"] = round((_sandbox_cpu(env) - cpu_before) * 1000 / run["processed"], 2)
    return run


def pipeline(rounds: int, events: int) -> None:
    envs = {side: _env(side, _free_port()) for side in ("on", "off")}
    try:
        for env in envs.values():
            _cli(env, "down", "--forget")
            _cli(env, "up", "--apply", str(REPO / "infra" / "topology.yaml"))
        rows: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        print(
            "| round | persist | CPU probe | load | throughput (ev/s) | p50 (ms) "
            "| sandbox CPU per event (ms) | lost | dup |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for n in range(rounds):
            for side in ("on", "off") if n % 2 == 0 else ("off", "on"):
                probe, load = cpu_probe_ms(), load_avg()
                r = _pipeline(envs[side], events)
                rows[side].append(r)
                print(
                    f"| {n + 1} | {side} | {probe} ms | {load} | {r['throughput']} | "
                    f"{r['p50_ms']} | {r['cpu_ms_per_event']} | {r['lost']} | {r['duplicates']} |",
                    flush=True,
                )
        on = statistics.median(r["throughput"] for r in rows["on"])
        off = statistics.median(r["throughput"] for r in rows["off"])
        p50_on = statistics.median(r["p50_ms"] for r in rows["on"])
        p50_off = statistics.median(r["p50_ms"] for r in rows["off"])
        cpu_on = statistics.median(r["cpu_ms_per_event"] for r in rows["on"])
        cpu_off = statistics.median(r["cpu_ms_per_event"] for r in rows["off"])
        print(
            f"\nmedians: throughput on {on} / off {off} ev/s = {on / off:.2f}x; "
            f"p50 on {p50_on} / off {p50_off} ms = {p50_on / p50_off:.2f}x; "
            f"sandbox CPU per event on {cpu_on} / off {cpu_off} ms = {cpu_on / cpu_off:.2f}x"
        )
        snaps = Path(envs["on"]["EDA_SANDBOX_STATE_DIR"]) / "persist"
        sizes = {p.name: p.stat().st_size for p in sorted(snaps.glob("*.pickle"))}
        print(f"snapshot files after the runs: {sizes}")
    finally:
        for env in envs.values():
            _cli(env, "down", "--forget")
            # Each side's state folder holds its own Lambda environments and logs.
            shutil.rmtree(env["EDA_SANDBOX_STATE_DIR"], ignore_errors=True)


def snapshot_cost(sizes: list[int]) -> None:
    from localstack.services.sqs.models import StandardQueue, sqs_stores
    from moto.dynamodb.models import dynamodb_backends

    from eda_sandbox.persistence import snapshot

    print("\n| state | encode (CPU ms) | bytes |")
    print("|---|---|---|")
    for n in sizes:
        sqs_stores.reset()
        queue = StandardQueue("bench", "us-east-1", "000000000000")
        sqs_stores["000000000000"]["us-east-1"].queues["bench"] = queue
        for i in range(n):
            queue.put(
                {
                    "MessageId": f"m-{i}",
                    "Body": json.dumps({"order_id": f"o-{i}", "amount": 12.5, "sku": "A-1"}),
                    "MD5OfBody": "0" * 32,
                    "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": "x"}},
                    "Attributes": {},
                }
            )
        started = time.process_time()
        data = snapshot.encode(sqs_stores)
        print(f"| SQS, {n} messages | {(time.process_time() - started) * 1000:.1f} | {len(data)} |")

        dynamodb_backends.clear()
        backend = dynamodb_backends["000000000000"]["us-east-1"]
        backend.create_table(
            "bench",
            schema=[{"AttributeName": "id", "KeyType": "HASH"}],
            throughput=None,
            attr=[{"AttributeName": "id", "AttributeType": "S"}],
            global_indexes=None,
            indexes=None,
            streams=None,
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
        for i in range(n):
            backend.put_item(
                "bench",
                {"id": {"S": f"o-{i}"}, "amount": {"N": "12.5"}, "sku": {"S": "A-1"}},
            )
        started = time.process_time()
        data = snapshot.encode(dynamodb_backends)
        cost = (time.process_time() - started) * 1000
        print(f"| DynamoDB, {n} items | {cost:.1f} | {len(data)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(f"{stamp}, CPU probe {cpu_probe_ms()} ms, load {load_avg()}")
    snapshot_cost([0, 1000, 10000])
    if not args.skip_pipeline:
        print()
        pipeline(args.rounds, args.events)


if __name__ == "__main__":
    main()
