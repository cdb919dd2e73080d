"""`make bench-peers`: the pipeline benchmark against MiniStack and against the sandbox, side
by side in one run.

MiniStack (pinned, bench/peer-requirements.txt) is installed in its own virtual
environment under the state folder and started on a loopback port. Each side gets its
own copy of infra/topology.yaml (timed: the topology apply). Then, alternating sides and
swapping which goes first every round:

- one burst per side on its fresh copy, which also starts its Lambda environments,
  reported apart ("first burst");
- ``--rounds`` warm bursts per side (median and range);
- the Node.js path (``sns-sqs-node``: the same publish fan-out, consumed by the Node
  ``signup_consumer``): one burst that starts its environments, then ``--node-rounds``;
- one steady run per side (``--rate`` events/s for ``--duration`` s);
- ``--startup-rounds`` start-ups per side: a fresh MiniStack, and a private sandbox of
  ours (own port and state, shared runtimes), each timed from launch to ready and then
  given a copy of the topology (start to ready, to every service loaded, and start plus
  apply as `make up` does); ``--startup-only`` runs these alone.

Absolute figures drift on a shared 2-core machine; the ratios (us/peer) from one run do
not, so the targets are checked as ratios. The table goes to stdout and, unless
``--no-record``, into bench/RESULTS.md with the date, the machine and the CPU probe.
Everything started here is stopped here. The sns-sqs paths are the ones both sides run
(MiniStack runs every Python function under its one interpreter, so the python3.12
functions of the other paths cannot load their dependencies there).

    .venv/bin/python bench/peers.py [--rounds 5] [--events 300] [--peer-port 4641]
        [--node-rounds 3] [--rate 50 --duration 20] [--startup-rounds 3] [--startup-only]
        [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import _peer
from _common import REPO, client, cpu_probe_ms, load_avg, session
from _compare import Results, machine, markdown, render
from _resources import copy_engine, destroy_copy
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from eda_sandbox.config import Settings, load_settings
from eda_sandbox.emulator import launcher

US, PEER = "eda-sandbox", "MiniStack"
PATH = "sns-sqs"
# The same fan-out with the Node.js consumer (signup_consumer, Powertools TypeScript).
NODE_PATH = "sns-sqs-node"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="warm bursts per side")
    p.add_argument(
        "--node-rounds", type=int, default=3, help="bursts per side on the Node.js path (0: none)"
    )
    p.add_argument("--events", type=int, default=300, help="events per burst")
    p.add_argument("--rate", type=float, default=50.0, help="steady: events/s (0: no steady)")
    p.add_argument("--duration", type=float, default=20.0, help="steady: seconds")
    p.add_argument("--startup-rounds", type=int, default=3, help="start-ups per side (0: none)")
    p.add_argument("--peer-port", type=int, default=4641, help="MiniStack's port")
    p.add_argument(
        "--spare-port", type=int, help="start-up rounds' port (default: the peer's, free by then)"
    )
    p.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    p.add_argument(
        "--startup-only", action="store_true", help="only the start-up rounds, no pipeline"
    )
    args = p.parse_args(argv)
    args.spare_port = args.spare_port or args.peer_port
    if args.rounds < 1 or args.events < 1 or args.startup_rounds < 0 or args.node_rounds < 0:
        p.error("need --rounds >= 1, --events >= 1, --startup-rounds >= 0, --node-rounds >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A SIGTERM (a timeout, a CI cancel) unwinds the stacks below, so what this run
    # started (MiniStack and its workers, our sandbox, the topology copies) is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    settings = load_settings()
    console = Console(width=None if sys.stdout.isatty() else 160)
    results = Results(probe_before=cpu_probe_ms(), load_before=load_avg())
    root = _peer.install(settings.state_dir / "peers" / "ministack")
    note(f"MiniStack installed in {root}")
    results.notes.append(
        "LocalStack 4.14 column not run: "
        + ("no Docker engine on this machine" if not docker_engine() else "not built yet")
    )
    if not args.node_rounds:
        results.notes.append("Node path not run (--node-rounds 0)")
    if args.startup_only:
        results.notes.append("pipeline not run (--startup-only)")
    else:
        pipeline(args, root, settings, results)
    if args.startup_rounds:
        startup_rounds(args, root, settings, results)
    results.probe_after, results.load_after = cpu_probe_ms(), load_avg()
    title = (
        "start-up side by side"
        if args.startup_only
        else f"pipeline side by side ({PATH}"
        + (f" and {NODE_PATH}" if args.node_rounds else "")
        + f", burst {args.events})"
    ) + f", {time.strftime('%Y-%m-%d %H:%M')}"
    console.print(render(results, title, US, PEER))
    if not args.no_record:
        record(markdown(results, title, US, PEER, machine(root)))
        note("recorded in bench/RESULTS.md")
    return 0 if results.complete() else 1


def pipeline(args: argparse.Namespace, root: Path, settings: Settings, results: Results) -> None:
    """Both sides started, a topology copy applied to each, the pipeline rounds run."""
    with ExitStack() as stack:
        peer = _peer.start(root, args.peer_port)
        stack.callback(peer.stop)
        results.add(PEER, "start to ready, s", peer.ready_s)
        if launcher.health(settings) is None:
            # No sandbox running: start one for the run (a start-up sample too), stop it after.
            t0 = time.perf_counter()
            launcher.start(settings)
            stack.callback(launcher.stop, settings)
            results.add(US, "start to ready, s", time.perf_counter() - t0)
        endpoints = {PEER: peer.endpoint, US: settings.endpoint_url}
        outputs = {}
        for side, url in endpoints.items():
            outputs[side], seconds = stack.enter_context(applied_copy(url, settings))
            results.add(side, "topology apply, s", seconds)
        pipeline_rounds(args, endpoints, outputs, results)


def docker_engine() -> bool:
    """A Docker engine answers here (a CLI alone is not one)."""
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=10)
    return done.returncode == 0


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def applied_copy(endpoint: str, shared: Settings) -> Iterator[tuple[Path, float]]:
    """A copy of the topology applied on ``endpoint``: its outputs file and the apply's
    seconds. Packaging uses the shared build cache, as a warm `make up` does."""
    folder = Path(tempfile.mkdtemp(prefix="bench-peers-", dir=shared.state_dir))
    outputs = folder / "outputs.json"
    engine = copy_engine(endpoint, shared.region, outputs, shared.build_dir)
    try:
        t0 = time.perf_counter()
        engine.apply()
        yield outputs, time.perf_counter() - t0
    finally:
        destroy_copy(engine)
        shutil.rmtree(folder, ignore_errors=True)


def node_consumer_error(endpoint: str, outputs: Path, region: str) -> str | None:
    """Why ``signup_consumer`` cannot run on ``endpoint`` (None: it can), from one invoke
    with an empty batch. Without this a side that cannot run it (MiniStack's Node
    runtime has no AWS SDK v3, which AWS's runtime provides) would wait out every burst."""
    name = json.loads(outputs.read_text())["functions"]["signup_consumer"]["name"]
    lam = client(session(region), "lambda", endpoint)
    try:
        resp = lam.invoke(FunctionName=name, Payload=b'{"Records": []}')
    except (BotoCoreError, ClientError) as e:  # a refusal is the answer
        return f"{type(e).__name__}: {e}"
    body = resp["Payload"].read().decode(errors="replace")
    return f"{resp['FunctionError']}: {body[:300]}" if "FunctionError" in resp else None


def pipeline_rounds(
    args: argparse.Namespace,
    endpoints: dict[str, str],
    outputs: dict[str, Path],
    results: Results,
) -> None:
    burst = ["--mode", "burst", "--events", str(args.events)]
    steady = ["--mode", "steady", "--rate", str(args.rate), "--duration", str(args.duration)]
    plan = [("first burst", PATH, burst)] + [("burst", PATH, burst)] * args.rounds
    # The Node path's first burst also starts its environments; it is not kept.
    if args.node_rounds:
        plan += [("node first burst", NODE_PATH, burst)]
        plan += [("node burst", NODE_PATH, burst)] * args.node_rounds
    if args.rate > 0:
        plan.append(("steady", PATH, steady))
    skip_node: set[str] = set()
    if args.node_rounds:
        for side, url in endpoints.items():
            if error := node_consumer_error(url, outputs[side], load_settings().region):
                skip_node.add(side)
                results.notes.append(f"Node path not run on {side}: signup_consumer fails: {error}")
    for index, (kind, path, mode) in enumerate(plan):
        sides = list(endpoints) if index % 2 == 0 else list(reversed(endpoints))
        for side in sides:
            if path == NODE_PATH and side in skip_node:
                continue
            note(f"{kind} {index}: {side} (load {load_avg()}) ...")
            row = run_pipeline(endpoints[side], outputs[side], mode, path)
            results.add_run(side, kind, row)


def run_pipeline(
    endpoint: str, outputs: Path, mode: list[str], path: str = PATH
) -> dict[str, object] | None:
    """One bench/pipeline.py run in its own process; its JSON row, or None if it failed."""
    cmd = [sys.executable, str(REPO / "bench" / "pipeline.py"), "--paths", path, *mode]
    cmd += ["--endpoint", endpoint, "--outputs", str(outputs), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            row: dict[str, object] = json.loads(line)["runs"][0]
            return row
    note(f"pipeline run failed ({done.returncode}): {done.stderr[-2000:]}")
    return None


def startup_rounds(
    args: argparse.Namespace, root: Path, shared: Settings, results: Results
) -> None:
    """Fresh starts, alternating sides: launch to ready, then a topology copy applied."""
    for index in range(args.startup_rounds):
        for side in [PEER, US] if index % 2 == 0 else [US, PEER]:
            note(f"start-up {index}: {side} ...")
            if side == PEER:
                peer_start(root, args.spare_port, shared, results)
            else:
                private_start(args.spare_port, shared, results)


def peer_start(root: Path, port: int, shared: Settings, results: Results) -> None:
    peer = _peer.start(root, port)
    try:
        results.add(PEER, "start to ready, s", peer.ready_s)
        with applied_copy(peer.endpoint, shared):
            results.add(PEER, "start + apply, s", time.perf_counter() - peer.started)
    finally:
        peer.stop()


def private_start(port: int, shared: Settings, results: Results) -> None:
    """A private sandbox of ours (own port and state, the shared runtimes): timed start,
    a copy of the topology applied, stopped."""
    state = Path(tempfile.mkdtemp(prefix="bench-start-", dir=shared.state_dir))
    env = {
        "EDA_SANDBOX_PORT": str(port),
        "EDA_SANDBOX_STATE_DIR": str(state),
        "EDA_SANDBOX_RUNTIMES_DIR": str(shared.runtimes_dir),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    settings = load_settings({**os.environ, **env})
    # The launcher hands LocalStack the EDA_SANDBOX_* of this process's environment.
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        t0 = time.perf_counter()
        launcher.start(settings)
        results.add(US, "start to ready, s", time.perf_counter() - t0)
        if all_loaded(settings, deadline=t0 + 60):
            results.add(US, "start to loaded, s", time.perf_counter() - t0)
        with applied_copy(settings.endpoint_url, shared):
            results.add(US, "start + apply, s", time.perf_counter() - t0)
    finally:
        launcher.stop(settings)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(state, ignore_errors=True)


def all_loaded(settings: Settings, deadline: float) -> bool:
    """Wait until every service has loaded behind the ready gateway (bounded)."""
    while time.perf_counter() < deadline:
        states = launcher.health(settings) or {}
        if all(states.get(s) == "running" for s in settings.services):
            return True
        time.sleep(0.02)  # polling the health endpoint, bounded by the deadline
    return False


def record(text: str) -> None:
    path = REPO / "bench" / "RESULTS.md"
    with path.open("a") as f:
        f.write("\n" + text)


if __name__ == "__main__":
    sys.exit(main())
