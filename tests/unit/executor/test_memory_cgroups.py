"""Environment memory cgroups: a sweep removes only what a stopped sandbox left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eda_sandbox.executor import limits


def test_the_sweep_leaves_a_running_sandboxs_empty_cgroups_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every sandbox on a machine shares one writable cgroup; an empty folder of a live
    # sandbox is about to be joined (or rejoined after an OOM kill) and must stay.
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(done.stdout)
    folders = {
        "live": limits.MemoryCgroup(tmp_path, False, "env1").folder,
        "dead": tmp_path / f"{limits.CGROUP_PREFIX}{dead}-env2",
        "legacy": tmp_path / f"{limits.CGROUP_PREFIX}0123abcd",
        "busy": tmp_path / f"{limits.CGROUP_PREFIX}{dead}-env3",
    }
    for name, folder in folders.items():
        folder.mkdir()
        (folder / "cgroup.procs").write_text("4242\n" if name == "busy" else "")
    removed: list[str] = []
    monkeypatch.setattr(Path, "rmdir", lambda self: removed.append(self.name))
    limits.sweep(tmp_path)
    assert sorted(removed) == sorted([folders["dead"].name, folders["legacy"].name])
