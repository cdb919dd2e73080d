"""An engine given the packages built before (``up --apply`` builds them while the sandbox
starts) plans with those and packages nothing again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from eda_sandbox.topology import engine as engine_module
from eda_sandbox.topology.engine import Engine
from eda_sandbox.topology.packaging import Package


def test_given_packages_are_planned_with_not_rebuilt(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sts = SimpleNamespace(get_caller_identity=lambda: {"Account": "000000000000"})
    monkeypatch.setattr(engine_module, "make_clients", lambda *_a: (SimpleNamespace(), sts))
    monkeypatch.setattr(engine_module, "build_resources", lambda _names: [])
    monkeypatch.setattr(engine_module, "Names", lambda *_a: SimpleNamespace())

    def package_again(_self: Any) -> Any:
        raise AssertionError("packaged again")

    monkeypatch.setattr(Engine, "package", package_again)
    zips = {"fn": Package("fn", tmp_path / "fn.zip", "sha")}
    loaded: Any = SimpleNamespace(topology=SimpleNamespace())
    with Engine(
        loaded,
        endpoint_url="http://x",
        region="us-east-1",
        build_dir=tmp_path,
        packages=(zips, {}),
    ) as engine:
        ctx, changes = engine.plan()
    assert ctx.packages == zips
    assert changes == []
