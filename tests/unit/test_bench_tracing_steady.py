"""The steady-rate tracing benchmark: CPU per second per side, and per pair of windows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def steady() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # bench scripts import their sibling modules
    try:
        spec = importlib.util.spec_from_file_location(
            "bench_tracing_steady", BENCH / "tracing_steady.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_windows_are_compared_by_cpu_per_second_and_within_pairs(steady: ModuleType) -> None:
    # on, off, off, on: the host slows down in the second pair, on both sides alike.
    rows = [
        {"side": "on", "cpu_s": 3.3, "wall_s": 10.0, "pair": 0},
        {"side": "off", "cpu_s": 3.0, "wall_s": 10.0, "pair": 0},
        {"side": "off", "cpu_s": 6.0, "wall_s": 10.0, "pair": 1},
        {"side": "on", "cpu_s": 6.6, "wall_s": 10.0, "pair": 1},
    ]
    summary = steady.summarize(rows)
    assert summary["pair_ratios"] == pytest.approx([1.1, 1.1])
    assert summary["ratio"] == pytest.approx(0.495 / 0.45)
    # A window cut short counts by its own length.
    rows[0]["wall_s"] = 5.0
    assert steady.summarize(rows)["pair_ratios"][0] == pytest.approx(2.2)


def test_a_run_without_both_sides_is_refused(steady: ModuleType) -> None:
    with pytest.raises(ValueError, match="both sides"):
        steady.summarize([{"side": "on", "cpu_s": 1.0, "wall_s": 1.0, "pair": 0}])
