"""The pipeline benchmark takes latency from the handlers' write stamps when present."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def common() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # bench scripts import their sibling modules
    try:
        spec = importlib.util.spec_from_file_location("bench_common", BENCH / "_common.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_plain_stamp(common: ModuleType) -> None:
    assert common.written_at({"written_at": {"N": "1700000000.125"}}, None) == 1700000000.125


def test_fifo_stamp_is_the_one_at_the_seq_index(common: ModuleType) -> None:
    item = {
        "seqs": {"L": [{"N": "3"}, {"N": "1"}, {"N": "2"}]},
        "written_at": {"L": [{"N": "10.5"}, {"N": "11.5"}, {"N": "12.5"}]},
    }
    assert common.written_at(item, 1) == 11.5
    assert common.written_at(item, 2) == 12.5
    assert common.written_at(item, 9) is None  # not written yet


@pytest.mark.parametrize(
    "item",
    [
        None,
        {},
        {"seqs": {"L": [{"N": "1"}]}},
        {"seqs": {"L": [{"N": "1"}]}, "written_at": {"L": []}},
    ],
)
def test_missing_stamps_fall_back(common: ModuleType, item: dict[str, object] | None) -> None:
    # Handlers from elsewhere may not stamp: the poller then estimates from its reads.
    assert common.written_at(item, None if item is None else 1) is None
