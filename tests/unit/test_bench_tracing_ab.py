"""The tracing A/B benchmark compares the sides round by round, as medians of ratios."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="module")
def ab(load_bench: Callable[[str], ModuleType]) -> ModuleType:
    return load_bench("tracing_ab")


def _row(side: str, rnd: int, rate: float | None, cpu: float, path: str = "sns-sqs") -> Any:
    return {"side": side, "round": rnd, "path": path, "throughput": rate, "cpu_ms_per_event": cpu}


def test_ratios_are_per_round_and_skip_a_failed_side(ab: ModuleType) -> None:
    samples = [
        _row("on", 1, 38.0, 11.0),
        _row("off", 1, 40.0, 10.0),
        _row("off", 2, 30.0, 12.0),
        _row("on", 2, 33.0, 12.0),
        _row("on", 3, None, 9.0),  # a burst that processed nothing has no rate
        _row("off", 3, 20.0, 9.0),
    ]
    assert ab.ratios(samples, "throughput") == {"sns-sqs": [0.95, 1.1]}
    assert ab.ratios(samples, "cpu_ms_per_event") == {"sns-sqs": [1.1, 1.0, 1.0]}
    assert ab._median([0.95, 1.1, 1.0]) == "1.000" and ab._median([]) == "-"
