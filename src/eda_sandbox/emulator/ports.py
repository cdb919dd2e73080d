"""Is the sandbox's port free, and if not, who holds it (checked before LocalStack starts).

LocalStack that cannot bind its port does not exit; the launcher then waited for its
readiness timeout (60 s) and blamed missing services. A bind test names the cause at once.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from eda_sandbox.errors import PortInUseError


def holder(port: int) -> str | None:
    """``pid N (command line)`` of the process listening on ``port``, if it can be seen.

    psutil comes with the emulator (LocalStack depends on it); without it, or without the
    right to see other users' sockets, the error simply names no process.
    """
    try:
        import psutil
    except ImportError:
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "a process of another user"
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(conn.pid)
                command = " ".join(process.cmdline())[:160]
                state = process.environ().get("EDA_SANDBOX_STATE_DIR")
                what = f"the sandbox of {state}" if state else command
                return f"pid {conn.pid} ({what})"
            return f"pid {conn.pid}"
    return None


def ensure_free(host: str, port: int, endpoint_url: str, *, answers: bool) -> None:
    """Raise :class:`PortInUseError` naming the holder when ``host:port`` cannot be bound.

    ``answers``: something already answers LocalStack's health request at ``endpoint_url``.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    cause: OSError | None = None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As a listening server binds: a port left in TIME_WAIT by a stopped sandbox is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise PortInUseError(f"cannot bind {host}:{port}: {e.strerror}") from e
            cause = e
    if cause is None and not answers:
        return
    who = holder(port)
    held = f" (held by {who})" if who else ""
    what = (
        f"something else already answers on {endpoint_url}"
        if answers
        else f"port {port} on {host} is already in use"
    )
    raise PortInUseError(
        f"{what}{held}; stop it or set EDA_SANDBOX_PORT to another port"
    ) from cause
