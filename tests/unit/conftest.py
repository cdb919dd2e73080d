"""Shared by the unit tests of the benchmark scripts in bench/ (not a package)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="session")
def load_bench() -> Callable[[str], ModuleType]:
    """``load_bench("tracing_ab")``: bench/tracing_ab.py as a module."""

    def load(name: str) -> ModuleType:
        sys.path.insert(0, str(BENCH))  # bench scripts import their sibling modules
        try:
            spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up
            spec.loader.exec_module(module)
            return module
        finally:
            sys.path.remove(str(BENCH))

    return load
