"""The init's side of the fork server (``zygote.py``). Standard library only.

``ForkedRuntime`` offers the part of ``subprocess.Popen`` the init uses (``pid``,
``wait()``, ``poll()``) for a runtime process the zygote forked on the init's behalf.
"""

from __future__ import annotations

import json
import os
import select
import socket
from pathlib import Path


class ZygoteUnavailableError(OSError):
    """No fork server answered; the init starts the runtime the plain way."""


def shadowed_names(modules_file: str, search_path: list[str]) -> set[str]:
    """Preloaded modules that the function's own code or layers also ship."""
    try:
        preloaded = set(json.loads(Path(modules_file).read_text()))
    except (OSError, ValueError) as e:
        raise ZygoteUnavailableError(f"zygote not ready ({modules_file}): {e}") from e
    shipped: set[str] = set()
    for folder in search_path:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            shipped.add(entry.split(".", 1)[0].split("-", 1)[0])
    return preloaded & shipped


class ForkedRuntime:
    def __init__(
        self, zygote: str, argv: list[str], cwd: str, env: dict[str, str], path: list[str],
        out_fd: int,
    ) -> None:  # fmt: skip
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(zygote)
            request = {"argv": argv, "cwd": cwd, "env": env, "path": path}
            socket.send_fds(self.sock, [json.dumps(request).encode() + b"\n"], [out_fd])
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
