"""AWS's limits and execution environment for one Lambda environment, decided in
LocalStack's process (the executor) and applied in the runtime process by ``isolation.py``.

What is used depends on what this machine allows, found once per sandbox:

* MemorySize: a memory cgroup per environment, so the kernel's OOM killer ends a runtime
  that uses more, with SIGKILL, exactly as on AWS (``Runtime.OutOfMemory``, "signal:
  killed"). Why not an rlimit: RLIMIT_AS counts address space, not memory, and Node.js
  reserves gigabytes of it (its pointer-compression cage) before running a line;
  RLIMIT_DATA counts every thread's 8 MB stack, so a 128 MB function with a thread pool
  fails; and both make an allocation fail (Python raises ``MemoryError``, which the
  runtime reports as the function's own error) where AWS kills the process. A cgroup
  (v1 ``memory``, or a delegated v2 ``memory`` controller) needs root or delegation;
  without it MemorySize is not enforced.
* A mount namespace (root only) with the code at ``/var/task``, the layers at ``/opt``
  and the environment's folder at ``/tmp``. Without it the runtime sees host paths.
* AWS's ulimits, everywhere (lowering a limit needs no privilege).
* An unprivileged user (``nobody``) when the sandbox runs as root.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import pwd
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eda_sandbox.executor import isolation

LOG = logging.getLogger(__name__)
ISOLATION_SCRIPT = Path(__file__).with_name("isolation.py")

# Lambda quotas: "File descriptors 1,024", "Execution processes/threads 1,024".
RLIMITS = {"NOFILE": [1024, 1024], "NPROC": [1024, 1024]}
# The user functions run as when the sandbox runs as root (AWS: sbx_user1051).
FUNCTION_USER = "nobody"
CGROUP_PREFIX = "eda-lambda-"


@dataclass(frozen=True)
class Capabilities:
    """What this machine lets the executor do, probed once."""

    cgroup_root: Path | None  # the folder environment cgroups are created in
    cgroup_v2: bool
    mounts: bool
    user: tuple[int, int] | None


def _own_memory_cgroup() -> tuple[Path | None, bool]:
    """Our process's memory cgroup folder when we may create children in it."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, False
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (folder / "memory.limit_in_bytes").exists() and os.access(folder, os.W_OK):
                return folder, False
    for line in lines:
        if line.startswith("0::"):
            base = Path("/sys/fs/cgroup")
            if not (base / "cgroup.controllers").exists():
                base = Path("/sys/fs/cgroup/unified")
            folder = base / line[3:].lstrip("/")
            try:
                delegated = "memory" in (folder / "cgroup.subtree_control").read_text().split()
            except OSError:
                delegated = False
            if delegated and os.access(folder, os.W_OK):
                return folder, True
    return None, False


def _probe_mounts(stage: Path) -> bool:
    if os.geteuid() != 0:
        return False
    stage.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            [sys.executable, "-I", "-S", str(ISOLATION_SCRIPT), "--probe", str(stage)],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return bool(json.loads(out.stdout or b"{}").get("mounts"))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return False


@functools.cache
def capabilities(state_dir: Path) -> Capabilities:
    cgroup, v2 = _own_memory_cgroup()
    user = None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(FUNCTION_USER)
            user = (entry.pw_uid, entry.pw_gid)
        except KeyError:
            user = (65534, 65534)
    if cgroup is not None:
        sweep(cgroup)
    found = Capabilities(cgroup, v2, _probe_mounts(state_dir / "envs" / "probe"), user)
    LOG.info("Lambda execution environments here: %s", found)
    return found


class MemoryCgroup:
    """One environment's memory cgroup: created with the function's MemorySize, removed
    when the environment stops."""

    def __init__(self, root: Path, v2: bool, env_id: str) -> None:
        # The owner's pid in the name: every sandbox on a machine shares the one cgroup
        # it may write in, and another sandbox's sweep must not take this folder while
        # it is empty (before the runtime joins it, or after the runtime was killed).
        self.folder = root / f"{CGROUP_PREFIX}{os.getpid()}-{env_id}"
        self.v2 = v2

    def create(self, memory_mb: int) -> str:
        limit = str(memory_mb << 20)
        self.folder.mkdir(exist_ok=True)
        if self.v2:
            (self.folder / "memory.max").write_text(limit)
            with contextlib.suppress(OSError):  # no swap: the limit is memory, as on AWS
                (self.folder / "memory.swap.max").write_text("0")
        else:
            (self.folder / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):
                (self.folder / "memory.memsw.limit_in_bytes").write_text(limit)
        return str(self.folder)

    def remove(self, attempts: int = 10) -> None:
        """Remove the folder once the kernel has let go of its processes: right after
        a SIGKILL it may still count them, so a failed attempt is retried later."""
        try:
            self.folder.rmdir()
        except FileNotFoundError:
            return
        except OSError:
            if attempts > 1:
                retry = threading.Timer(0.5, self.remove, args=(attempts - 1,))
                retry.daemon = True
                retry.start()


def _owner_alive(folder: Path) -> bool:
    """Whether the process that made an environment cgroup (named by ``MemoryCgroup``)
    still runs; a folder without an owner in its name is a stale one."""
    pid, sep, _ = folder.name.removeprefix(CGROUP_PREFIX).partition("-")
    if not sep or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def sweep(root: Path) -> None:
    """Remove empty environment cgroups a stopped sandbox left behind (not those of a
    sandbox that still runs: an empty one of those is about to be joined)."""
    for folder in root.glob(f"{CGROUP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if not _owner_alive(folder) and not (folder / "cgroup.procs").read_text().strip():
                folder.rmdir()


def isolation_spec(
    caps: Capabilities,
    *,
    cgroup: str | None,
    code_dir: str,
    layers: list[str],
    tmp: Path,
    keep: list[str],
) -> dict[str, Any]:
    """The spec ``isolation.apply`` carries out in the runtime process."""
    spec: dict[str, Any] = {"rlimits": RLIMITS}
    if cgroup:
        spec["cgroup"] = cgroup
    if caps.user is not None:
        spec["user"] = list(caps.user)
        os.chown(tmp, *caps.user)
    # A runtime installed under /opt would vanish behind the layers: host paths then.
    hidden = [p for p in keep if p.startswith(isolation.LAYERS_ROOT + os.sep)]
    if hidden:
        LOG.warning("no /var/task and /opt for this function: it needs %s", hidden)
    if caps.mounts and not hidden:
        spec["mounts"] = {
            "task": code_dir,
            "layers": layers,
            "tmp": str(tmp),
            "keep": keep,
        }
        spec["cwd"] = isolation.TASK_ROOT
    return spec
