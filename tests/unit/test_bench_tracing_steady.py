"""The steady-rate tracing benchmark: CPU per second per side, and per pair of windows."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def steady(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("tracing_steady")


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
