"""Resource samples of a sandbox's processes during a run: RSS, open files, threads.

A sandbox is LocalStack's process and every process under it (the DynamoDB process, the
fork servers, each environment's init and runtime). Long-lived ones are compared by
their own pid; Lambda environments come and go, so they are compared by role totals.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

METRICS = ("rss_mb", "fds", "threads")


def role_of(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    if "localstack.runtime.main" in command:
        return "localstack"
    if "servers.dynamodb" in command or "dynamodb_server" in command:
        return "dynamodb"
    if "init_process" in command:
        return "lambda-init"
    if (
        "zygote" in command
        and process.parent()
        and "localstack" in " ".join(process.parent().cmdline())
    ):
        return "fork-server"
    return "lambda-runtime"


@dataclass
class Sample:
    at: float
    # (role, pid) -> (rss MB, open fds, threads); roles with many processes are summed too.
    processes: dict[tuple[str, int], tuple[float, int, int]]

    def totals(self) -> dict[str, tuple[float, int, int]]:
        out: dict[str, list[float]] = {}
        for (role, _pid), values in self.processes.items():
            acc = out.setdefault(role, [0.0, 0, 0])
            for i, v in enumerate(values):
                acc[i] += v
        return {r: (v[0], int(v[1]), int(v[2])) for r, v in out.items()}


class Sampler(threading.Thread):
    """Samples ``root_pid`` and its descendants every ``every`` seconds until ``stop``."""

    def __init__(self, root_pid: int, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.every = every
        self.samples: list[Sample] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.take())
            self.stop.wait(self.every)

    def take(self) -> Sample:
        found: dict[tuple[str, int], tuple[float, int, int]] = {}
        try:
            root = psutil.Process(self.root_pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return Sample(time.time(), found)
        for p in processes:
            try:
                with p.oneshot():
                    values = (p.memory_info().rss / 2**20, p.num_fds(), p.num_threads())
                found[(role_of(p), p.pid)] = values
            except psutil.Error:
                continue
        return Sample(time.time(), found)


def _values(quarter: list[Sample], key: Any, index: int) -> list[float]:
    """One metric over a quarter: of one process (key (role, pid)) or a role's total."""
    if isinstance(key, tuple):
        return [s.processes[key][index] for s in quarter if key in s.processes]
    return [s.totals()[key][index] for s in quarter if key in s.totals()]


def quarter_growth(samples: list[Sample], since: float, until: float) -> list[dict[str, Any]]:
    """Per long-lived process and per role total: the mean of each metric over the second
    quarter of [since, until] and over the last, and the growth from one to the other."""
    span = until - since
    q2 = [s for s in samples if since + span / 4 <= s.at < since + span / 2]
    q4 = [s for s in samples if since + 3 * span / 4 <= s.at <= until]
    if not q2 or not q4:
        return []
    rows = []
    long_lived = {key for key in q2[0].processes if key[0] in ("localstack", "dynamodb")}
    keys: list[tuple[str, Any]] = [
        (f"{role} (pid {pid})", (role, pid)) for role, pid in sorted(long_lived)
    ]
    keys += [(f"all {role}", role) for role in sorted({r for s in q2 for r in s.totals()})]
    for label, key in keys:
        row: dict[str, Any] = {"what": label}
        for i, metric in enumerate(METRICS):
            a, b = _values(q2, key, i), _values(q4, key, i)
            if not a or not b:
                continue
            m2, m4 = statistics.fmean(a), statistics.fmean(b)
            row[metric] = (
                round(m2, 1),
                round(m4, 1),
                round((m4 - m2) / m2 * 100, 1) if m2 else 0.0,
            )
        rows.append(row)
    return rows
