"""AWS's limits as the init enforces them, for every runtime (standard library only).

The init (``init_process.py``) calls these at the points where AWS's own init (rapid,
in aws-lambda-runtime-interface-emulator) applies the same rule:

* a response larger than 6,291,556 bytes becomes ``Function.ResponseSizeTooLarge``, and
  the runtime's POST gets RAPI's 413 (``init_http.py``; AWS: ``rapi/handler/
  invocationresponse.go``);
* a runtime that exits is reported as ``Runtime.ExitError``, or ``Runtime.OutOfMemory``
  when the environment's memory cgroup killed it, with Go's signal names ("signal:
  killed"), as ``supervisor/model/process.go`` prints them;
* a log line longer than a CloudWatch Logs event is split into events of at most
  262,118 bytes (256 KiB less CloudWatch's 26 bytes of per-event overhead), which is
  where Lambda splits an over-long line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

# interop.MaxPayloadSize: 6 MiB plus 100 bytes for the response envelope.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
MAX_LOG_EVENT_BYTES = 256 * 1024 - 26
ISOLATION_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "isolation.py")

# Go's syscall.Signal.String() on Linux, which AWS prints after "signal: ".
_GO_SIGNALS = {
    signal.SIGHUP: "hangup",
    signal.SIGINT: "interrupt",
    signal.SIGQUIT: "quit",
    signal.SIGILL: "illegal instruction",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGKILL: "killed",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGPIPE: "broken pipe",
    signal.SIGALRM: "alarm clock",
    signal.SIGTERM: "terminated",
}


def response_too_large(size: int) -> bytes | None:
    """AWS's error for a response of ``size`` bytes, or None when it fits."""
    if size <= MAX_RESPONSE_BYTES:
        return None
    message = (
        f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
        f"({MAX_RESPONSE_BYTES} bytes)."
    )
    error = {"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}
    return json.dumps(error).encode()


def set_memory_limit(cgroup: str | None, memory_mb: int, inherited_kb: int = 0) -> None:
    """The cgroup's limit: MemorySize less what a forked runtime inherited from its zygote.

    Why less: a process joins a memory cgroup with nothing charged, so the pages it
    shares with the zygote (the preloaded runtime, about 24 MB) would come free where AWS
    counts them. Taking all of them off errs the strict way: a page the runtime copies on
    write is counted twice, so a function close to its MemorySize may be killed slightly
    before AWS would, never after."""
    if not cgroup:
        return
    limit = str(max(memory_mb << 20, 32 << 20) - (inherited_kb << 10))
    for name in ("memory.max", "memory.limit_in_bytes"):  # cgroup v2, v1
        path = os.path.join(cgroup, name)
        if os.path.exists(path):
            try:
                with open(path, "w") as f:
                    f.write(limit)
            except OSError as e:
                print(f"could not set the memory limit ({path}): {e}", flush=True)
            return


def oom_kills(cgroup: str | None) -> int:
    """How many processes the environment's memory cgroup has OOM-killed so far."""
    if not cgroup:
        return 0
    for name in ("memory.events", "memory.oom_control"):  # cgroup v2, v1
        try:
            with open(os.path.join(cgroup, name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def peak_memory_mb(cgroup: str | None) -> int:
    """The cgroup's high-water mark, which outlives a killed runtime (0 without one)."""
    if not cgroup:
        return 0
    for name in ("memory.peak", "memory.max_usage_in_bytes"):  # cgroup v2, v1
        try:
            with open(os.path.join(cgroup, name)) as f:
                return int(f.read().split()[0]) >> 20
        except (OSError, ValueError, IndexError):
            continue
    return 0


def exit_error(code: int, oom_killed: bool) -> tuple[str, str]:
    """(errorType, "signal: killed" or "exit status 3") for a runtime that exited."""
    if code < 0:
        try:
            name = _GO_SIGNALS.get(signal.Signals(-code), signal.Signals(-code).name)
        except ValueError:
            name = f"signal {-code}"
        status = f"signal: {name}"
    else:
        status = f"exit status {code}"
    if oom_killed and code == -signal.SIGKILL:
        return "Runtime.OutOfMemory", status
    return "Runtime.ExitError", status


def split_long_lines(output: str) -> str:
    """``output`` with every line longer than a log event cut into event-sized lines
    (at character boundaries), so each becomes its own CloudWatch event."""
    if len(output) <= MAX_LOG_EVENT_BYTES // 4:  # no line can be too long: fast path
        return output
    lines = output.split("\n")
    for i, line in enumerate(lines):
        data = line.encode()
        if len(data) < MAX_LOG_EVENT_BYTES:
            continue
        pieces: list[str] = []
        start = 0
        while start < len(data):
            # Room for the newline the uploader adds; never cut a UTF-8 sequence.
            end = min(start + MAX_LOG_EVENT_BYTES - 1, len(data))
            while end < len(data) and (data[end] & 0xC0) == 0x80:
                end -= 1
            pieces.append(data[start:end].decode())
            start = end
        lines[i] = "\n".join(pieces)
    return "\n".join(lines)


def spawn(argv: list[str], spec: dict[str, Any], **popen: Any) -> subprocess.Popen[bytes]:
    """Start a runtime process under ``spec`` (see ``isolation.py``).

    A mount namespace needs code in the new process before it execs the runtime, so with
    one the runtime starts through ``isolation.py`` (a Python start, about 30 ms). Without
    one everything is cheaper from here: the user through Popen, the rlimits inherited
    from the init (``main`` sets them), and the cgroup joined right after the start.
    """
    if spec.get("mounts"):
        wrapped = [sys.executable, "-I", "-S", ISOLATION_SCRIPT, json.dumps(spec), "--", *argv]
        return subprocess.Popen(wrapped, **popen)
    user = spec.get("user")
    if user is not None:
        popen.update(user=user[0], group=user[1], extra_groups=[])
    proc = subprocess.Popen(argv, **popen)
    if spec.get("cgroup"):
        with open(os.path.join(spec["cgroup"], "cgroup.procs"), "w") as f:
            f.write(str(proc.pid))
    return proc
