"""Benchmark: apply infra/topology.yaml on a fresh endpoint, then a no-change apply.

Targets: full apply < 3 s, no-change apply < 0.5 s. Runs against the sandbox
(``Settings.endpoint_url``, or ``--endpoint-url``) under a unique name suffix and
destroys what it created. Packaging is warmed first and reported on its own line: the
pip install of a new requirement set is a one-off cost, not the apply's.

    .venv/bin/python bench/topology_apply.py [--runs 5] [--endpoint-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eda_sandbox.config import load_settings
from eda_sandbox.topology import Engine, load_topology

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--file", type=Path, default=REPO / "infra" / "topology.yaml")
    p.add_argument("--endpoint-url")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    settings = load_settings()
    endpoint = args.endpoint_url or settings.endpoint_url
    suffix = f"-b{uuid.uuid4().hex[:6]}"
    loaded = load_topology(args.file)
    rows: list[tuple[str, float, str]] = []
    outputs = Path(tempfile.mkdtemp()) / "outputs.json"
    constraints = loaded.base_dir / "constraints.txt"

    t0 = time.perf_counter()
    engine = Engine(
        loaded,
        endpoint_url=endpoint,
        region=settings.region,
        name_suffix=suffix,
        build_dir=settings.build_dir,
        constraints=constraints if constraints.is_file() else None,
        outputs_file=outputs,
    )
    rows.append(("engine start (clients, STS)", time.perf_counter() - t0, ""))
    try:
        t0 = time.perf_counter()
        engine.package()
        rows.append(("packaging, warm-up (pip on first run only)", time.perf_counter() - t0, ""))

        first = engine.apply()
        rows.append(
            (f"full apply, fresh endpoint ({first.count('create')} created)", first.seconds, "3.0")
        )

        again = [engine.apply() for _ in range(args.runs)]
        assert all(r.changed == 0 for r in again), "a no-change apply changed something"
        times = [r.seconds for r in again]
        rows.append((f"no-change apply, median of {args.runs}", statistics.median(times), "0.5"))
        rows.append((f"no-change apply, worst of {args.runs}", max(times), "0.5"))

        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "eda_sandbox.topology", "apply", f"--name-suffix={suffix}",
             "--file", str(args.file), "--endpoint-url", endpoint, "--outputs", str(outputs)],
            capture_output=True, text=True, check=False, cwd=REPO,
        )  # fmt: skip
        rows.append(("no-change apply, CLI process end to end", time.perf_counter() - t0, ""))
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
    finally:
        t0 = time.perf_counter()
        gone = engine.destroy()
        rows.append((f"destroy ({gone.count('delete')} deleted)", time.perf_counter() - t0, ""))
        engine.close()

    table = Table(title=f"topology apply against {endpoint}")
    for column in ("measure", "seconds", "target", ""):
        table.add_column(column)
    for name, seconds, target in rows:
        verdict = "" if not target else ("ok" if seconds < float(target) else "MISSED")
        table.add_row(name, f"{seconds:.3f}", target, verdict)
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
