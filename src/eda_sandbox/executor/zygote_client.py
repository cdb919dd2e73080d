"""The init's side of the fork server (``zygote.py``). Standard library only.

``ForkedRuntime`` offers the part of ``subprocess.Popen`` the init uses (``pid``,
``wait()``, ``poll()``) for a runtime process the zygote forked on the init's behalf.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
from pathlib import Path
from typing import Any


class ZygoteUnavailableError(OSError):
    """No fork server answered; the init starts the runtime the plain way."""


# Copies bigger than this are not compared byte for byte (botocore is ~80 MB): shipping
# one counts as shadowing, as before.
MAX_COMPARED_BYTES = 5 << 20


def fingerprint(location: str) -> str | None:
    """A digest of a module's code (a package folder or a single file), ``None`` when it is
    too big to compare. Byte-compiled caches are left out: they follow from the sources."""
    if os.path.isdir(location):
        files = []
        for root, dirs, names in os.walk(location):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            files += [os.path.join(root, n) for n in sorted(names) if not n.endswith(".pyc")]
    else:
        files = [location]
    try:
        if sum(os.path.getsize(f) for f in files) > MAX_COMPARED_BYTES:
            return None
        digest = hashlib.sha256()
        for f in files:
            digest.update(os.path.relpath(f, location).encode() + b"\0")
            with open(f, "rb") as fh:
                digest.update(fh.read())
            digest.update(b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def shadowed_names(modules_file: str, search_path: list[str]) -> set[str]:
    """Preloaded modules whose code the function or a layer ships in another version.

    A forked runtime has them imported already, so it would use the runtime's copy where
    a plain start imports the function's. An identical copy (same files, same bytes; the
    reference functions ship the runtime's own jmespath with Powertools) changes nothing,
    and neither does a ``.dist-info`` folder alone: metadata is looked up along
    ``sys.path``, which is the same either way.
    """
    try:
        preloaded = json.loads(Path(modules_file).read_text())
    except (OSError, ValueError) as e:
        raise ZygoteUnavailableError(f"zygote not ready ({modules_file}): {e}") from e
    prints: dict[str, str | None] = preloaded.get("fingerprints", {})
    names = set(preloaded.get("names", []))
    shadowed: set[str] = set()
    for folder in search_path:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith((".dist-info", ".egg-info")) or entry == "__pycache__":
                continue
            name = entry.split(".", 1)[0]
            if name not in names or name in shadowed:
                continue
            known = prints.get(name)
            if known is None or fingerprint(os.path.join(folder, entry)) != known:
                shadowed.add(name)
    return shadowed


def inherited_kb(modules_file: str) -> int:
    """The zygote's anonymous memory, which a forked runtime maps from the start."""
    try:
        return int(json.loads(Path(modules_file).read_text()).get("inherited_kb", 0))
    except (OSError, ValueError, TypeError):
        return 0


class ForkedRuntime:
    def __init__(
        self, zygote: str, argv: list[str], cwd: str, env: dict[str, str], path: list[str],
        out_fd: int, isolation: dict[str, Any] | None = None, *, exec_command: bool = False,
    ) -> None:  # fmt: skip
        request: dict[str, Any] = {"argv": argv, "cwd": cwd, "env": env, "path": path}
        if isolation:
            request["isolation"] = isolation  # applied by the child (isolation.py)
        if exec_command:
            request["exec"] = True  # the server of inits execs argv (zygote.py)
        self._fork(zygote, request, [out_fd])

    def _fork(self, zygote: str, request: dict[str, Any], fds: list[int]) -> None:
        """Send ``request`` with ``fds`` attached; read the child's pid."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(zygote)
            socket.send_fds(self.sock, [json.dumps(request).encode() + b"\n"], fds)
            self.reader = self.sock.makefile("rb")
            first = self.reader.readline()
        except OSError as e:
            self.sock.close()
            raise ZygoteUnavailableError(f"zygote at {zygote}: {e}") from e
        if not first.startswith(b"pid "):
            self.sock.close()
            raise ZygoteUnavailableError(f"zygote at {zygote} answered {first!r}")
        self.pid = int(first.split()[1])
        self.returncode: int | None = None

    def wait(self) -> int:
        line = self.reader.readline()
        if line.startswith(b"exit "):
            self.returncode = int(line.split()[1])
        else:
            # The zygote went away: watch the process itself; its status is lost.
            try:
                fd = os.pidfd_open(self.pid)
                select.select([fd], [], [])
                os.close(fd)
            except OSError:
                pass
            self.returncode = -9
        self.sock.close()
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode
