"""The init's share of AWS's limits, and the isolation spec's path rules, on their own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

from eda_sandbox.executor import init_limits, isolation


def test_response_limit_is_rapids() -> None:
    assert init_limits.response_too_large(6_291_556) is None
    error = json.loads(init_limits.response_too_large(6_291_557) or b"{}")
    assert error == {
        "errorMessage": "Response payload size (6291557 bytes) exceeded maximum allowed "
        "payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_exit_errors_use_gos_signal_names() -> None:
    assert init_limits.exit_error(-signal.SIGKILL, True) == (
        "Runtime.OutOfMemory",
        "signal: killed",
    )
    assert init_limits.exit_error(-signal.SIGKILL, False) == ("Runtime.ExitError", "signal: killed")
    assert init_limits.exit_error(-signal.SIGSEGV, False)[1] == "signal: segmentation fault"
    # An OOM counter that moved does not make another signal an OOM.
    assert init_limits.exit_error(-signal.SIGABRT, True) == ("Runtime.ExitError", "signal: aborted")
    assert init_limits.exit_error(3, False) == ("Runtime.ExitError", "exit status 3")


def test_long_lines_split_at_cloudwatch_event_size() -> None:
    short = "a\nb\n"
    assert init_limits.split_long_lines(short) is short
    line = "é" * 200_000  # 400,000 bytes, never cut inside a character
    out = init_limits.split_long_lines("start\n" + line + "\nend\n").split("\n")
    assert out[0] == "start" and out[-2:] == ["end", ""]
    pieces = out[1:-2]
    assert len(pieces) == 2
    assert all(len(p.encode()) + 1 <= init_limits.MAX_LOG_EVENT_BYTES for p in pieces)
    assert "".join(pieces) == line


def test_oom_counter_reads_v1_and_v2(tmp_path: Path) -> None:
    assert init_limits.oom_kills(None) == 0
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert init_limits.oom_kills(str(tmp_path)) == 2
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert init_limits.oom_kills(str(tmp_path)) == 1


def test_memory_limit_takes_off_what_the_zygote_lends(tmp_path: Path) -> None:
    limit = tmp_path / "memory.limit_in_bytes"
    limit.write_text("0")
    init_limits.set_memory_limit(str(tmp_path), 128, inherited_kb=24 * 1024)
    assert int(limit.read_text()) == 104 << 20
    init_limits.set_memory_limit(str(tmp_path), 128)
    assert int(limit.read_text()) == 128 << 20


def test_blocked_ancestors_are_the_folders_the_user_cannot_pass() -> None:
    # Not under pytest's tmp_path: its parent is private to us, which would block all.
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        base.chmod(0o755)
        private = base / "home"
        (private / "pyenv" / "3.12").mkdir(parents=True)
        private.chmod(0o700)
        (base / "state").mkdir()
        uid = os.getuid() + 12345  # someone else: only the "other" bits count
        keep = [str(private / "pyenv" / "3.12"), str(base / "state")]
        blocked = isolation.blocked_ancestors(keep, uid, uid)
        assert blocked == {str(private): [str(private / "pyenv" / "3.12")]}
    finally:
        shutil.rmtree(base)
