"""Starting and finding the fork servers (see ``zygote.py``), in LocalStack's process.

One per Python runtime, started when a function of that runtime is prepared, so it is
usually warm before the first invocation; until it is ready, inits start runtimes the
plain way. One more forks the inits themselves, for every runtime (Node.js too), started
with the first function prepared; until it is ready, the executor starts inits plainly."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from eda_sandbox.config import Settings
from eda_sandbox.executor.runtimes import RuntimeEnv
from eda_sandbox.executor.zygote_client import ForkedRuntime, ZygoteUnavailableError

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
_LOCK = threading.Lock()
_PROCS: dict[str, subprocess.Popen[bytes]] = {}
# The fork server of inits, beside the runtimes' ones ("init" is no runtime's name).
INITS = "init"


def _socket_folder() -> Path:
    # Unix socket paths are limited to 108 bytes, so not under the (maybe deep) state
    # folder; a private per-user folder keeps other users from connecting.
    return Path(f"/tmp/eda-sandbox-{os.getuid()}")  # noqa: S108 - checked private below


def _socket_dir() -> Path:
    folder = _socket_folder()
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise PermissionError(f"{folder} must be private to this user")
    return folder


def _key(settings: Settings) -> str:
    return hashlib.sha256(str(settings.state_dir).encode()).hexdigest()[:12]


def paths(settings: Settings, runtime: str) -> tuple[str, str]:
    """(socket address, modules file) of the zygote for ``runtime`` in this sandbox."""
    sock = _socket_dir() / f"{_key(settings)}-{runtime}.sock"
    return str(sock), str(settings.envs_dir / f"zygote-{runtime}.modules")


def remove_sockets(settings: Settings) -> list[Path]:
    """Remove this sandbox's fork-server sockets; for ``down``, once the fork servers are
    gone. Returns what was removed. The per-user folder itself stays: the sandboxes of
    one user share it, and removing it could race with another one's start."""
    removed = []
    for sock in _socket_folder().glob(f"{_key(settings)}-*.sock"):
        sock.unlink(missing_ok=True)
        removed.append(sock)
    return removed


def ensure(settings: Settings, rt: RuntimeEnv) -> None:
    """Start the zygote for ``rt`` unless it runs; returns at once (it warms up alone)."""
    _ensure(settings, rt.runtime, [str(rt.python), "-I", str(ZYGOTE_SCRIPT)])


def ensure_inits(settings: Settings) -> None:
    """Start the fork server of inits (``zygote.py --init``) unless it runs."""
    _ensure(settings, INITS, [sys.executable, "-I", "-S", str(ZYGOTE_SCRIPT), "--init"])


def _ensure(settings: Settings, name: str, command: list[str]) -> None:
    if not settings.zygote:
        return
    with _LOCK:
        proc = _PROCS.get(name)
        if proc is not None and proc.poll() is None:
            return
        sock, modules = paths(settings, name)
        Path(modules).unlink(missing_ok=True)
        settings.envs_dir.mkdir(parents=True, exist_ok=True)
        log = (settings.envs_dir / f"zygote-{name}.log").open("ab")
        try:
            proc = subprocess.Popen(
                [*command, sock, modules, str(os.getpid())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(settings.envs_dir),
            )
        finally:
            log.close()
        _PROCS[name] = proc
        record = {"env_id": f"zygote-{name}", "function": "", "pgids": [proc.pid]}
        (settings.envs_dir / f"zygote-{name}.json").write_text(json.dumps(record))


def ready(settings: Settings, runtime: str) -> tuple[str, str] | None:
    if not settings.zygote:
        return None
    proc = _PROCS.get(runtime)
    if proc is None or proc.poll() is not None:
        return None
    sock, modules = paths(settings, runtime)
    return (sock, modules) if Path(modules).is_file() else None


class ForkedInit(ForkedRuntime):
    """An init forked by the fork server of inits, with what the executor uses of
    ``subprocess.Popen``: ``pid``, ``poll()``, and ``wait(timeout)`` from any thread (one
    thread reads the exit line the server sends; the others wait for it)."""

    def __init__(self, server: str, env: dict[str, str], cwd: str, fds: list[int]) -> None:
        self._fork(server, {"env": env, "cwd": cwd}, fds)
        self._exited = threading.Event()
        threading.Thread(target=self._reap, name=f"init-{self.pid}", daemon=True).start()

    def _reap(self) -> None:
        try:
            ForkedRuntime.wait(self)
        finally:
            self._exited.set()

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"init {self.pid}", timeout or 0.0)
        return self.returncode if self.returncode is not None else -9


def fork_init(
    settings: Settings, env: dict[str, str], cwd: str, listener_fd: int, log_fd: int
) -> ForkedInit | None:
    """An init forked from the warm server, or None (not started or not ready yet, or
    gone): the executor then starts it the plain way."""
    ready_server = ready(settings, INITS)
    if ready_server is None:
        ensure_inits(settings)
        return None
    try:
        return ForkedInit(ready_server[0], env, cwd, [listener_fd, log_fd])
    except ZygoteUnavailableError:
        return None
