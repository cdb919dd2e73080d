"""Journey tracing's cost end to end: the pipeline with tracing on and off, A/B in one run.

Issue 17 asks that tracing, on by default, cost at most 5 % of pipeline throughput. The
switch is ``EDA_SANDBOX_TRACING`` (read when the sandbox starts), so each side needs its
own start. On the sandbox's one port, every round starts a sandbox per side in turn
(the order swapped each round), applies the topology, runs a warm-up burst (which starts
the Lambda environments), then ``--bursts`` measured bursts of ``bench/pipeline.py``
over the three paths, and stops it. Per burst and path it keeps:

- throughput (events/s end to end, what the issue's budget is about);
- LocalStack's own CPU per event (user + system time of its process over the burst,
  from /proc; the tracing patches run there), which a busy host disturbs far less than
  a wall-clock rate, since a shared 2-core machine stretches time but not work.

Reported per round as on/off ratios, and their medians over the run, with the CPU probe
and load average of every burst. ``--record`` appends the table to bench/RESULTS.md.

``--one-sandbox`` starts one sandbox (tracing on) and switches recording per burst instead
(``PUT /_eda-sandbox/journeys/recording``), in the order on, off, off, on within a round:
both sides then share one process, heap and set of warm Lambda environments, which
separate starts do not, and on a shared host the two sides of a round are minutes apart
rather than many. The off side keeps the wrappers in place, passing straight through, so
it measures what recording costs, not the few hundred nanoseconds a wrapper adds.

    .venv/bin/python bench/tracing_ab.py [--rounds 4] [--bursts 2] [--events 300]
        [--paths sns-sqs,eventbridge,fifo] [--one-sandbox] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import REPO, cpu_probe_ms, load_avg

from eda_sandbox.config import JOURNEYS_PATH, load_settings
from eda_sandbox.emulator import launcher
from eda_sandbox.journeys.client import JourneyClient

SIDES = ("on", "off")
CLI = [sys.executable, "-m", "eda_sandbox"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=4, help="sandbox starts per side")
    p.add_argument("--bursts", type=int, default=2, help="measured bursts per start")
    p.add_argument("--events", type=int, default=300, help="events per path and burst")
    p.add_argument("--warmup-events", type=int, default=60)
    p.add_argument("--paths", default="sns-sqs,eventbridge,fifo")
    p.add_argument(
        "--one-sandbox", action="store_true", help="one sandbox, recording switched per burst"
    )
    p.add_argument("--record", action="store_true", help="append the result to RESULTS.md")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.bursts < 1 or args.events < 1:
        p.error("need --rounds, --bursts and --events >= 1")
    return args


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def side_env(side: str) -> dict[str, str]:
    return {**os.environ, "EDA_SANDBOX_TRACING": "1" if side == "on" else "0"}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tracing_flag(endpoint: str) -> bool:
    with urllib.request.urlopen(f"{endpoint}{JOURNEYS_PATH}?last=1", timeout=5) as r:
        return bool(json.load(r)["tracing"])


def pipeline(events: int, paths: str) -> list[dict[str, Any]]:
    """One bench/pipeline.py burst (no poison: only the pipeline's own work is timed)."""
    cmd = [sys.executable, str(REPO / "bench" / "pipeline.py"), "--mode", "burst"]
    cmd += ["--events", str(events), "--paths", paths, "--poison", "0", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            rows: list[dict[str, Any]] = json.loads(line)["runs"]
            return rows
    raise RuntimeError(f"pipeline run failed ({done.returncode}): {done.stderr[-2000:]}")


def start(env: dict[str, str]) -> int:
    """Start a sandbox with ``env``, apply the topology, return LocalStack's pid."""
    subprocess.run([*CLI, "down"], env=env, check=False, capture_output=True)
    up = subprocess.run(
        [*CLI, "up", "--apply", str(REPO / "infra" / "topology.yaml")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if up.returncode != 0:
        raise RuntimeError(f"up failed: {up.stderr[-2000:]}")
    record = launcher.read_pid_record(load_settings(env))
    assert record is not None, "no sandbox pid"
    return record.pid


def bursts(
    side: str, args: argparse.Namespace, samples: list[dict[str, Any]], rnd: int, pid: int
) -> None:
    for burst in range(args.bursts):
        probe, load = cpu_probe_ms(), load_avg()
        # The pipeline's paths run one after another; CPU is split per path by the
        # burst's own timestamps, so sample the process around each path alone.
        for path in args.paths.split(","):
            before = process_cpu(pid)
            (row,) = pipeline(args.events, path)
            cpu = process_cpu(pid) - before
            row.update(
                side=side,
                round=rnd,
                burst=burst,
                cpu_probe_ms=probe,
                load=load,
                cpu_ms_per_event=round(cpu * 1000 / max(1, row["processed"]), 2),
            )
            samples.append(row)
            note(
                f"round {rnd} {side} burst {burst} {path}: {row['throughput']} ev/s, "
                f"{row['cpu_ms_per_event']} ms CPU/event, lost {row['lost']}, "
                f"probe {probe} ms, load {load}"
            )


def one_side(side: str, args: argparse.Namespace, samples: list[dict[str, Any]], rnd: int) -> None:
    env = side_env(side)
    settings = load_settings(env)
    try:
        pid = start(env)
        assert tracing_flag(settings.endpoint_url) == (side == "on"), "wrong tracing side"
        pipeline(args.warmup_events, args.paths)
        bursts(side, args, samples, rnd, pid)
    finally:
        subprocess.run([*CLI, "down"], env=env, check=False, capture_output=True)


def one_sandbox(args: argparse.Namespace, samples: list[dict[str, Any]]) -> None:
    env = side_env("on")
    settings = load_settings(env)
    client = JourneyClient(settings.endpoint_url)
    try:
        pid = start(env)
        pipeline(args.warmup_events, args.paths)
        for rnd in range(1, args.rounds + 1):
            for side in ("on", "off", "off", "on"):
                if client.set_recording(side == "on") != (side == "on"):
                    raise RuntimeError(f"recording did not switch {side}")
                note(f"round {rnd}: recording {side} (load {load_avg()}) ...")
                bursts(side, args, samples, rnd, pid)
    finally:
        subprocess.run([*CLI, "down"], env=env, check=False, capture_output=True)


def ratios(samples: list[dict[str, Any]], key: str) -> dict[str, list[float]]:
    """Per path, the on/off ratio of ``key``'s median within each round."""
    out: dict[str, list[float]] = {}
    for path in sorted({s["path"] for s in samples}):
        for rnd in sorted({s["round"] for s in samples}):
            med = {}
            for side in SIDES:
                values = [
                    s[key]
                    for s in samples
                    if s["path"] == path and s["round"] == rnd and s["side"] == side and s[key]
                ]
                med[side] = statistics.median(values) if values else None
            if med["on"] and med["off"]:
                out.setdefault(path, []).append(med["on"] / med["off"])
    return out


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, "
        f"{platform.system()} {platform.release()}, CPython {platform.python_version()}"
    )


def report(args: argparse.Namespace, samples: list[dict[str, Any]], started: str) -> str:
    lines = [
        f"### tracing A/B, {started} (`bench/tracing_ab.py --rounds {args.rounds} "
        f"--bursts {args.bursts} --events {args.events}"
        f"{' --one-sandbox' if args.one_sandbox else ''}`)",
        "",
        f"Machine: {machine()}.",
        "",
        "| round | side | burst | path | CPU probe | load 1/5/15 | ev/s | LocalStack CPU/event "
        "| p50 | lost | dup |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in samples:
        lines.append(
            f"| {s['round']} | {s['side']} | {s['burst']} | {s['path']} | {s['cpu_probe_ms']} ms "
            f"| {s['load']} | {s['throughput']} | {s['cpu_ms_per_event']} ms | {s['p50_ms']} ms "
            f"| {s['lost']} | {s['duplicates']} |"
        )
    lines += [
        "",
        "| path | throughput on/off per round | median | CPU/event on/off per round | median |",
        "|---|---|---|---|---|",
    ]
    rate, cpu = ratios(samples, "throughput"), ratios(samples, "cpu_ms_per_event")
    for path in sorted(set(rate) | set(cpu)):
        lines.append(
            f"| {path} | {', '.join(f'{r:.3f}' for r in rate.get(path, []))} "
            f"| {_median(rate.get(path))} | {', '.join(f'{r:.3f}' for r in cpu.get(path, []))} "
            f"| {_median(cpu.get(path))} |"
        )
    every_rate = [r for v in rate.values() for r in v]
    every_cpu = [r for v in cpu.values() for r in v]
    lines += [
        "",
        f"All paths: throughput on/off median {_median(every_rate)}, "
        f"LocalStack CPU per event on/off median {_median(every_cpu)}.",
    ]
    return "\n".join(lines) + "\n"


def _median(values: list[float] | None) -> str:
    return f"{statistics.median(values):.3f}" if values else "-"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(REPO)  # the state folder (.sandbox) is the checkout's, wherever this runs from
    started = time.strftime("%Y-%m-%d %H:%M")
    samples: list[dict[str, Any]] = []
    if args.one_sandbox:
        one_sandbox(args, samples)
    else:
        for rnd in range(1, args.rounds + 1):
            order = SIDES if rnd % 2 else tuple(reversed(SIDES))
            for side in order:
                note(f"round {rnd}: tracing {side} (load {load_avg()}) ...")
                one_side(side, args, samples, rnd)
    text = report(args, samples, started)
    print(text)
    state = load_settings().state_dir
    state.mkdir(parents=True, exist_ok=True)
    (state / "tracing_ab.json").write_text(json.dumps(samples, indent=1))
    if args.record:
        with (REPO / "bench" / "RESULTS.md").open("a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
