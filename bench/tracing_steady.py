"""Journey tracing's CPU cost at a steady rate, recording switched on and off in short
windows of one run on one sandbox.

Why this and not only ``tracing_ab.py``: a 300-event burst on these shared 2-core
machines varies by 10-20 % from one burst to the next, on either side, so bursts cannot
resolve the 5 % budget of issue 17 (bench/RESULTS.md). Here one sandbox (tracing on) gets
a steady stream of events (``pipeline.py --mode steady``) while recording is switched
(``PUT /_eda-sandbox/journeys/recording``) every ``--window`` seconds, in the order on,
off, off, on, ...; LocalStack's CPU time (user + system, /proc) is summed per window. At
a fixed offered rate below saturation the events per second are the same on both sides,
so the ratio of CPU seconds per second is the ratio of CPU per event, and drifts of the
host's speed, which last longer than a window, fall on both sides alike. LocalStack is
one GIL-bound process that every event crosses several times, so its CPU per event is
what bounds the pipeline's throughput at saturation: the ratio is the cost's measure.

The first ``--lead`` seconds (the Lambda environments scale up) and the last ones (the
stream drains) are not counted. The run's own result (lost, duplicates, p50) is kept so
that a window never hides a broken run.

    .venv/bin/python bench/tracing_steady.py [--rate 40] [--duration 300] [--window 10]
        [--paths sns-sqs,eventbridge] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from _common import REPO, cpu_probe_ms, load_avg
from tracing_ab import CLI, machine, note, pipeline, process_cpu, side_env, start

from eda_sandbox.config import load_settings
from eda_sandbox.journeys.client import JourneyClient

PATTERN = ("on", "off", "off", "on")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=float, default=40.0, help="events/s, below saturation")
    p.add_argument("--duration", type=float, default=300.0, help="seconds per path")
    p.add_argument("--window", type=float, default=10.0, help="seconds per recording state")
    p.add_argument("--lead", type=float, default=15.0, help="seconds left out at each end")
    p.add_argument("--paths", default="sns-sqs,eventbridge")
    p.add_argument("--record", action="store_true", help="append the result to RESULTS.md")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.window <= 0 or args.duration < 2 * args.lead + 4 * args.window:
        p.error("need --rate, --window > 0 and --duration >= 2 x --lead + 4 x --window")
    return args


def windows(client: JourneyClient, pid: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Switch recording every window while the stream runs; CPU seconds per window."""
    rows: list[dict[str, Any]] = []
    count = int((args.duration - 2 * args.lead) // args.window)
    for index in range(count):
        side = PATTERN[index % len(PATTERN)]
        if client.set_recording(side == "on") != (side == "on"):
            raise RuntimeError(f"recording did not switch {side}")
        cpu, wall = process_cpu(pid), time.monotonic()
        time.sleep(args.window)  # a fixed sampling window, not a wait for a condition
        rows.append(
            {
                "side": side,
                "cpu_s": process_cpu(pid) - cpu,
                "wall_s": time.monotonic() - wall,
                "pair": index // 2,
            }
        )
    client.set_recording(True)
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean CPU seconds per second on each side, their ratio, and the ratio within each
    pair of adjacent windows (on-off, off-on), where the host's drift cancels."""
    rate = {
        side: [r["cpu_s"] / r["wall_s"] for r in rows if r["side"] == side]
        for side in ("on", "off")
    }
    if not rate["on"] or not rate["off"]:
        raise ValueError("need windows of both sides")
    pairs: dict[int, dict[str, float]] = {}
    for r in rows:
        pairs.setdefault(r["pair"], {})[r["side"]] = r["cpu_s"] / r["wall_s"]
    cpu_on, cpu_off = statistics.fmean(rate["on"]), statistics.fmean(rate["off"])
    return {
        "cpu_on": cpu_on,
        "cpu_off": cpu_off,
        "ratio": cpu_on / cpu_off,
        "pair_ratios": [p["on"] / p["off"] for p in pairs.values() if "on" in p and "off" in p],
    }


def one_path(
    path: str, args: argparse.Namespace, pid: int, client: JourneyClient
) -> dict[str, Any]:
    cmd = [sys.executable, str(REPO / "bench" / "pipeline.py"), "--mode", "steady"]
    cmd += ["--rate", str(args.rate), "--duration", str(args.duration), "--paths", path]
    cmd += ["--poison", "0", "--json"]
    probe, load = cpu_probe_ms(), load_avg()
    stream = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(args.lead)  # the environments scale up; not counted
        rows = windows(client, pid, args)
        out, err = stream.communicate(timeout=args.duration + 600)
    finally:
        if stream.poll() is None:
            stream.kill()
    run = next((json.loads(x)["runs"][0] for x in reversed(out.splitlines()) if x[:1] == "{"), None)
    if run is None:
        raise RuntimeError(f"pipeline run failed ({stream.returncode}): {err[-2000:]}")
    summary = summarize(rows)
    result = {
        "path": path,
        "probe": probe,
        "load": load,
        "windows": len(rows),
        **summary,
        "lost": run["lost"],
        "duplicates": run["duplicates"],
        "p50_ms": run["p50_ms"],
        "processed": run["processed"],
    }
    note(
        f"{path}: CPU on {result['cpu_on']:.3f} s/s, off {result['cpu_off']:.3f} s/s, "
        f"ratio {result['ratio']:.3f}, pair median {statistics.median(result['pair_ratios']):.3f}, "
        f"lost {run['lost']}"
    )
    return result


def report(args: argparse.Namespace, results: list[dict[str, Any]], started: str) -> str:
    lines = [
        f"### tracing at a steady rate, {started} (`bench/tracing_steady.py --rate {args.rate} "
        f"--duration {args.duration} --window {args.window}`)",
        "",
        f"Machine: {machine()}.",
        "",
        "| path | CPU probe | load 1/5/15 | windows | LocalStack CPU on | off | on/off "
        "| pair ratios: median (quartiles) | processed | lost | dup | p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        q = statistics.quantiles(r["pair_ratios"], n=4) if len(r["pair_ratios"]) > 1 else [0, 0, 0]
        lines.append(
            f"| {r['path']} | {r['probe']} ms | {r['load']} | {r['windows']} "
            f"| {r['cpu_on']:.3f} s/s | {r['cpu_off']:.3f} s/s | {r['ratio']:.3f} "
            f"| {statistics.median(r['pair_ratios']):.3f} ({q[0]:.3f}-{q[2]:.3f}) "
            f"| {r['processed']} | {r['lost']} | {r['duplicates']} | {r['p50_ms']} ms |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(REPO)
    started = time.strftime("%Y-%m-%d %H:%M")
    env = side_env("on")
    client = JourneyClient(load_settings(env).endpoint_url)
    results: list[dict[str, Any]] = []
    try:
        pid = start(env)
        pipeline(60, args.paths)  # warm-up: every path's environments exist
        for path in args.paths.split(","):
            results.append(one_path(path, args, pid, client))
    finally:
        subprocess.run([*CLI, "down"], env=env, check=False, capture_output=True)
    text = report(args, results, started)
    print(text)
    if args.record:
        with (REPO / "bench" / "RESULTS.md").open("a") as f:
            f.write("\n" + text)
    return 0 if all(r["lost"] == 0 and r["duplicates"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
