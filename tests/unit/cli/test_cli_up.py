"""``eda-sandbox up --apply``: the apply is prepared (topology loaded, functions packaged)
while the sandbox starts, and only then sent to it. No LocalStack is started."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any

import pytest

from eda_sandbox.cli.commands import up
from eda_sandbox.emulator import applied, launcher
from eda_sandbox.topology import __main__ as topology_cli


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """A sandbox that is not running and whose start waits until the apply is prepared:
    a start and a preparation that ran one after the other fail the test."""
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path))
    seen: dict[str, Any] = {"prepared": threading.Event(), "order": []}
    stopped = launcher.SandboxStatus(None, False, {}, "http://127.0.0.1:4566")
    ready = launcher.SandboxStatus(4242, True, {"sqs": "running"}, "http://127.0.0.1:4566")

    def start(_settings: Any) -> launcher.SandboxStatus:
        assert seen["prepared"].wait(10), "the apply was not prepared while the sandbox started"
        seen["order"].append("started")
        return ready

    def prepare(argv: list[str], *, package: bool = False) -> Any:
        seen["order"].append(("prepared", argv, package))
        seen["prepared"].set()
        return "the prepared apply"

    def execute(prepared: Any) -> int:
        seen["order"].append(("applied", prepared))
        return 0

    monkeypatch.setattr(launcher, "status", lambda _s: stopped)
    monkeypatch.setattr(launcher, "start", start)
    monkeypatch.setattr(topology_cli, "prepare", prepare)
    monkeypatch.setattr(topology_cli, "execute", execute)
    monkeypatch.setattr(applied, "remember_apply", lambda *_a: seen["order"].append("remembered"))
    return seen


def test_the_apply_is_prepared_while_the_sandbox_starts(sandbox: dict[str, Any]) -> None:
    assert up.run(argparse.Namespace(apply="infra/topology.yaml")) == 0
    assert sandbox["order"] == [
        ("prepared", ["apply", "--file", "infra/topology.yaml"], True),
        "started",
        ("applied", "the prepared apply"),
        "remembered",
    ]


def test_an_invalid_topology_still_starts_the_sandbox_and_fails(
    sandbox: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def invalid(argv: list[str], *, package: bool = False) -> int:
        sandbox["prepared"].set()
        return 2  # the problems were printed

    monkeypatch.setattr(topology_cli, "prepare", invalid)
    assert up.run(argparse.Namespace(apply="infra/topology.yaml")) == 2
    assert sandbox["order"] == ["started"]
