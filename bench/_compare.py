"""The side-by-side table of `make bench-peers`: medians, ranges, ratios (us/peer), targets.

The targets are issue 16's, checked as ratios of medians from one run, since absolute
figures on a shared machine drift from hour to hour and ratios from one run do not.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _peer import REQUIREMENTS
from rich.table import Table

# A check gets the ratio of medians (us/peer) and our median; None: nothing to judge.
Check = Callable[[float | None, float | None], bool | None]


def _ratio_at_least(bound: float) -> Check:
    return lambda ratio, _ours: None if ratio is None else ratio >= bound


def _ratio_at_most(bound: float) -> Check:
    return lambda ratio, _ours: None if ratio is None else ratio <= bound


def _ours_at_most(bound: float) -> Check:
    return lambda _ratio, ours: None if ours is None else ours <= bound


# (metric, source, target, check). A source is ("run", kind, field) for pipeline runs,
# ("value", name) for timings.
ROWS: list[tuple[str, tuple[str, ...], str, Check | None]] = [
    ("first burst, events/s", ("run", "first burst", "throughput"), "", None),
    ("first burst p50, ms", ("run", "first burst", "p50_ms"), "", None),
    ("burst, events/s", ("run", "burst", "throughput"), ">= 1.5x", _ratio_at_least(1.5)),
    ("burst p50, ms", ("run", "burst", "p50_ms"), "<= 0.7x", _ratio_at_most(0.7)),
    ("burst p95, ms", ("run", "burst", "p95_ms"), "", None),
    ("Node burst, events/s", ("run", "node burst", "throughput"), "", None),
    ("Node burst p50, ms", ("run", "node burst", "p50_ms"), "", None),
    ("steady p50, ms", ("run", "steady", "p50_ms"), "", None),
    ("steady p95, ms", ("run", "steady", "p95_ms"), "ours <= 50 ms", _ours_at_most(50)),
    ("start to ready, s", ("value", "start to ready, s"), "<= 2x", _ratio_at_most(2)),
    # Ours only: ready comes before the services have loaded (patches/loading.py).
    ("start to every service loaded, s", ("value", "start to loaded, s"), "", None),
    ("start + topology apply, s", ("value", "start + apply, s"), "", None),
    ("topology apply (copy), s", ("value", "topology apply, s"), "", None),
]


@dataclass
class Results:
    """Every sample of one bench-peers run, per side."""

    probe_before: float = 0.0
    load_before: str = ""
    probe_after: float = 0.0
    load_after: str = ""
    values: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    runs: dict[tuple[str, str], list[dict[str, Any] | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, side: str, name: str, value: float) -> None:
        self.values.setdefault((side, name), []).append(round(value, 2))

    def add_run(self, side: str, kind: str, row: dict[str, Any] | None) -> None:
        self.runs.setdefault((side, kind), []).append(row)

    def samples(self, side: str, source: tuple[str, ...]) -> list[float]:
        if source[0] == "value":
            return self.values.get((side, source[1]), [])
        rows = self.runs.get((side, source[1]), [])
        return [float(r[source[2]]) for r in rows if r and r.get(source[2]) is not None]

    def exact_runs(self, side: str) -> tuple[int, int]:
        """(runs with nothing lost, nothing twice and the DLQ count exact, all runs)."""
        rows = [r for (s, _), rs in self.runs.items() if s == side for r in rs]
        exact = sum(1 for r in rows if r and not r["lost"] and not r["duplicates"]
                    and r["dlq"] == r["dlq_expected"] and not r["valid_in_dlq"])  # fmt: skip
        return exact, len(rows)

    def complete(self) -> bool:
        return all(r is not None for rs in self.runs.values() for r in rs)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:g}"
    return f"{med:g} ({min(values):g}-{max(values):g}, n={len(values)})"


def lines(results: Results, us: str, peer: str) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, peer, us, ratio us/peer, target, met) per row, then the fidelity row."""
    out = []
    for name, source, target, check in ROWS:
        ours, theirs = results.samples(us, source), results.samples(peer, source)
        if not ours and not theirs:
            continue  # not run (--startup-only, --node-rounds 0, no steady rate)
        m_ours, m_theirs = _median(ours), _median(theirs)
        ratio = m_ours / m_theirs if m_ours is not None and m_theirs else None
        met = check(ratio, m_ours) if check else None
        out.append((
            name, _cell(theirs), _cell(ours), "-" if ratio is None else f"{ratio:.2f}x",
            target, {True: "met", False: "missed", None: ""}[met],
        ))  # fmt: skip
    up = _median(results.samples(us, ("value", "start + apply, s")))
    start = _median(results.samples(peer, ("value", "start to ready, s")))
    if up is not None and start:
        ratio = up / start
        out.append(("our start + apply / peer's start", "", "", f"{ratio:.1f}x", "<= 3x",
                    "met" if ratio <= 3 else "missed"))  # fmt: skip
    (ours_ok, ours_all), (peer_ok, peer_all) = results.exact_runs(us), results.exact_runs(peer)
    if not ours_all and not peer_all:
        return out
    out.append(("lost 0, dup 0, DLQ exact", f"{peer_ok} of {peer_all} runs",
                f"{ours_ok} of {ours_all} runs", "", "every run",
                "met" if ours_ok == ours_all else "missed"))  # fmt: skip
    return out


HEADERS = ("", "{peer}", "{us}", "us/peer", "target", "")


def render(results: Results, title: str, us: str, peer: str) -> Table:
    probe = f"CPU probe {results.probe_before} -> {results.probe_after} ms"
    table = Table(title=f"{title}, {probe}", caption="; ".join(results.notes))
    for header in HEADERS:
        table.add_column(header.format(us=us, peer=peer), justify="left" if not header else "right")
    for row in lines(results, us, peer):
        table.add_row(*row)
    return table


def markdown(results: Results, title: str, us: str, peer: str, where: str) -> str:
    head = [h.format(us=us, peer=peer) for h in HEADERS]
    text = [
        f"### {title} (`make bench-peers`)",
        "",
        f"Machine: {where}. CPU probe {results.probe_before} ms before, "
        f"{results.probe_after} ms after; load {results.load_before} before, "
        f"{results.load_after} after.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    text += ["| " + " | ".join(row) + " |" for row in lines(results, us, peer)]
    text.append("")
    for note in results.notes:
        text.append(f"- {note}.")
    return "\n".join(text) + "\n"


def machine(peer_root: Path) -> str:
    """Cores, CPU model, memory, kernel, and the peer's pinned version."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pins = [x for x in REQUIREMENTS.read_text().splitlines() if x.startswith("ministack==")]
    return (
        f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, {platform.system()} "
        f"{platform.release()}, CPython {platform.python_version()}, "
        f"{pins[0] if pins else 'ministack'} (in {peer_root})"
    )
