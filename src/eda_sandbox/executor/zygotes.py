"""Starting and finding the per-runtime fork servers (see ``zygote.py``), in LocalStack's
process. One per runtime, started when a function of that runtime is prepared, so it is
usually warm before the first invocation; until it is ready, inits start runtimes the
plain way."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path

from eda_sandbox.config import Settings
from eda_sandbox.executor.runtimes import RuntimeEnv

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
_LOCK = threading.Lock()
_PROCS: dict[str, subprocess.Popen[bytes]] = {}


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
    if not settings.zygote:
        return
    with _LOCK:
        proc = _PROCS.get(rt.runtime)
        if proc is not None and proc.poll() is None:
            return
        sock, modules = paths(settings, rt.runtime)
        Path(modules).unlink(missing_ok=True)
        settings.envs_dir.mkdir(parents=True, exist_ok=True)
        log = (settings.envs_dir / f"zygote-{rt.runtime}.log").open("ab")
        try:
            proc = subprocess.Popen(
                [str(rt.python), "-I", str(ZYGOTE_SCRIPT), sock, modules, str(os.getpid())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(settings.envs_dir),
            )
        finally:
            log.close()
        _PROCS[rt.runtime] = proc
        record = {"env_id": f"zygote-{rt.runtime}", "function": "", "pgids": [proc.pid]}
        (settings.envs_dir / f"zygote-{rt.runtime}.json").write_text(json.dumps(record))


def ready(settings: Settings, runtime: str) -> tuple[str, str] | None:
    if not settings.zygote:
        return None
    proc = _PROCS.get(runtime)
    if proc is None or proc.poll() is not None:
        return None
    sock, modules = paths(settings, runtime)
    return (sock, modules) if Path(modules).is_file() else None
