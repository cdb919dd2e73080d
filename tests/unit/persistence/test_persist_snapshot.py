"""Snapshot files: atomic replacement, fresh locks after a restore, and a corrupt file
reported with its path instead of an empty start."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from eda_sandbox.errors import SnapshotCorruptError
from eda_sandbox.persistence import snapshot
from eda_sandbox.persistence.flusher import Flusher


class Holder:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.plain = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.items = {"a": 1}


def test_a_snapshot_round_trips_and_replaces_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "persist" / "x.pickle"
    snapshot.write(path, snapshot.encode({"v": 1}))
    snapshot.write(path, snapshot.encode({"v": 2}))
    assert snapshot.read(path) == {"v": 2}
    assert [p.name for p in path.parent.iterdir()] == ["x.pickle"], "a temporary file stayed"


def test_no_snapshot_yet_is_none(tmp_path: Path) -> None:
    assert snapshot.read(tmp_path / "missing.pickle") is None


def test_locks_come_back_free_and_a_condition_keeps_its_lock(tmp_path: Path) -> None:
    held = Holder()
    path = tmp_path / "h.pickle"
    with held.lock:  # held while pickled, as a store's lock may be
        snapshot.write(path, snapshot.encode(held))
    back = snapshot.read(path)
    assert back.items == {"a": 1}
    assert back.lock.acquire(timeout=1) and back.plain.acquire(timeout=1)
    assert back.cond._lock is back.lock


def test_state_the_c_pickler_refuses_falls_back_to_localstacks_dill(tmp_path: Path) -> None:
    path = tmp_path / "f.pickle"
    snapshot.write(path, snapshot.encode({"double": lambda x: 2 * x}))
    assert snapshot.read(path)["double"](4) == 8


@pytest.mark.parametrize(
    "content",
    [b"", b"not a snapshot at all", snapshot.HEADER + b"\x80\x05garbage", b"truncated"],
)
def test_a_corrupt_snapshot_is_an_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "dynamodb.pickle"
    good = snapshot.encode({"tables": list(range(100))})
    path.write_bytes(good[: len(good) // 2] if content == b"truncated" else content)
    with pytest.raises(SnapshotCorruptError) as error:
        snapshot.read(path)
    assert str(path) in str(error.value)
    assert error.value.path == path


def test_the_flusher_saves_what_changed_and_everything_at_stop() -> None:
    saved: list[str] = []
    failures = ["sqs"]

    def save(name: str) -> None:
        if name in failures:
            failures.remove(name)
            raise OSError("disk full")
        saved.append(name)

    flusher = Flusher(save, interval=3600, thread_name="test-flusher")
    flusher.mark("sqs")
    flusher.flush()
    assert saved == []  # failed, so still dirty
    flusher.flush()
    assert saved == ["sqs"]
    flusher.flush()
    assert saved == ["sqs"], "saved again without a change"
    flusher.stop(final=["sns", "sqs"])
    assert saved == ["sqs", "sns", "sqs"]
