"""A fork server per Lambda runtime: cold starts without re-importing the managed runtime.

Why: a new execution environment spends ~200 ms starting Python and importing what AWS's
managed runtime provides (the runtime interface client, boto3/botocore), before the
function's own code is even read. This process, run on the runtime's interpreter, imports
those once and forks a ready interpreter per environment. The forked child then becomes
the runtime exactly as ``python -m awslambdaric <handler>`` would: the function's
environment, working directory, ``sys.path`` (task root and layers first), its own process
group, stdout/stderr into the init's pipe, and a fresh random seed.

Fidelity guard: modules imported here would shadow a function's own copy, so the init
falls back to a plain ``exec`` when the task root or a layer ships a different copy of
any top-level module listed in its modules file (an identical copy is harmless).
``awslambdaric.bootstrap`` is not preloaded because it reads ``AWS_LAMBDA_LOG_FORMAT``/
``_LEVEL`` at import time.

Protocol (unix stream socket): the init sends one JSON line ``{"argv", "cwd", "env",
"path"}`` with its pipe's write end attached (SCM_RIGHTS); the server answers
``pid <n>`` and, when that child exits, ``exit <code>`` (negative for a signal, as
``subprocess`` reports it). Single-threaded on purpose: forking a threaded process is
unsafe. Standard library only, apart from the preloaded modules.

With ``--init`` the same server forks inits instead (``init_process.py``, on LocalStack's
interpreter): an init imports about 110 ms of standard library (``http.client``,
``http.server``, ``dataclasses``, measured on a 2-core host at twice calm speed) before it
can start any runtime, which every cold start paid, for every runtime. The request then
carries the init's environment and working directory, with two descriptors: the socket
the executor bound for it, and its log. The forked init is what ``python -I -S
init_process.py`` would be: its own session, stdin from ``/dev/null``, the log as stdout
and stderr, ``EDA_INIT_FD`` naming the socket as received here, and this server as the
parent it watches (the server exits with the sandbox, so the inits follow).

The server of inits also starts the runtimes nothing is preloaded for (Node.js): a request
with ``"exec": true`` gets a child that applies the environment's isolation and
``exec``s the command. A plain start in a mount namespace needs code in the new process
before the runtime's exec, which was a Python start of its own (``isolation.py`` as a
trampoline, 30-50 ms); a child of this server has that code already.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import socket
import sys
from typing import Any

PRELOAD = (
    "boto3",
    "boto3.session",
    "botocore.session",
    "botocore.client",
    # not awslambdaric.lambda_runtime_client: its C client does not survive a fork
    "awslambdaric.lambda_runtime_marshaller",
    "awslambdaric.lambda_context",
    "awslambdaric.lambda_runtime_exception",
    "awslambdaric.lambda_runtime_log_utils",
    "awslambdaric.lambda_config",
)


# Started with -I: sys.path is the standard library and the runtime's site-packages only.
BASE_PATH = list(sys.path)


def preload() -> dict[str, object]:
    """Import the preloads; name every non-standard top-level module now imported, with a
    fingerprint of its code (``zygote_client.fingerprint``) for the init to compare."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    names = sorted({m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names))
    fingerprint = _sibling("zygote_client").fingerprint
    prints: dict[str, str | None] = {}
    for name in names:
        module = sys.modules.get(name)
        location = getattr(module, "__file__", None)
        if location and os.path.basename(location).startswith("__init__."):
            location = os.path.dirname(location)
        prints[name] = fingerprint(location) if location else None
    return {"names": names, "fingerprints": prints, "inherited_kb": _anonymous_kb()}


def _anonymous_kb() -> int:
    """This process's anonymous memory, which every forked child maps without being
    charged for it in its own memory cgroup (the init takes it off the limit)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _sibling(name: str) -> Any:
    """A module next to this file, loaded without touching ``sys.path`` or ``sys.modules``:
    whatever is in them is what every forked runtime inherits."""
    import importlib.util

    location = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_eda_{name}", location)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {location}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def become_runtime(request: dict[str, object], out_fd: int) -> None:
    """In the child: turn this interpreter into the function's runtime process."""
    _redirect(out_fd)
    isolate(request.get("isolation"))
    import io

    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    cwd = str(request["cwd"])
    os.chdir(cwd)
    extra = [str(p) for p in request.get("path", []) or []]  # type: ignore[attr-defined]
    # As for `python -m`: the working directory first, then PYTHONPATH, then the rest.
    sys.path[:] = [cwd, *extra, *BASE_PATH]
    argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
    sys.argv = argv
    random.seed()
    code = 0
    try:
        from awslambdaric.__main__ import main

        main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - report it like an interpreter would
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def preload_init() -> dict[str, object]:
    """Import the init (``init_process.py`` and its siblings, as its script start does)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    global _INIT, _ISOLATION
    import init_process  # type: ignore[import-not-found,unused-ignore]
    import isolation  # type: ignore[import-not-found,unused-ignore]

    _INIT = init_process
    _ISOLATION = isolation
    isolation.preload()
    return {"names": [], "fingerprints": {}, "inherited_kb": 0}


def become_exec(request: dict[str, object], out_fd: int) -> None:
    """In the child: the runtime's command, exec'd under the environment's isolation."""
    _redirect(out_fd)
    isolate(request.get("isolation"))
    env = request["env"]
    argv = request["argv"]
    assert isinstance(env, dict)
    assert isinstance(argv, list)
    command = [str(a) for a in argv]
    try:
        os.chdir(str(request["cwd"]))
        # The runtime's own command line, as the trampoline (isolation.py) execs it.
        os.execvpe(command[0], command, {str(k): str(v) for k, v in env.items()})  # noqa: S606
    except OSError as e:
        os.write(2, f"eda-sandbox: cannot start the runtime {argv[0]}: {e}\n".encode())
    os._exit(127)


def _redirect(out_fd: int) -> None:
    """Own process group; stdin from /dev/null, stdout and stderr into the init's pipe."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    os.close(null)


def become_init(request: dict[str, object], fds: list[int]) -> None:
    """In the child: become the init of one execution environment (see the docstring)."""
    listener_fd, log_fd = fds
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.close(null)
    import io

    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    os.environ["EDA_INIT_FD"] = str(listener_fd)
    os.environ["EDA_INIT_PARENT_PID"] = str(os.getppid())
    os.chdir(str(request["cwd"]))
    code = 0
    try:
        code = int(_INIT.main())
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - report it like an interpreter would
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


_ISOLATION: Any = None
_INIT: Any = None


def isolate(spec: object) -> None:
    """AWS's limits and paths (``isolation.py``), before anything of the function runs;
    a child that cannot have them exits as a plain start would."""
    if not spec:
        return
    try:
        _ISOLATION.apply(spec)
    except OSError as e:
        os.write(2, f"eda-sandbox: cannot set up the execution environment: {e}\n".encode())
        os._exit(126)


def serve(path: str, modules_file: str, parent: int, *, inits: bool = False) -> None:
    global _ISOLATION
    if inits:
        preloaded = preload_init()
    else:
        _ISOLATION = _sibling("isolation")
        _ISOLATION.preload()  # ctypes, so a forked child mounts without importing it
        preloaded = preload()
    most_fds = 2 if inits else 1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    old_mask = os.umask(0o077)
    listener.bind(path)
    os.umask(old_mask)
    listener.listen(64)
    with open(modules_file + ".tmp", "w") as f:
        json.dump(preloaded, f)
    os.replace(modules_file + ".tmp", modules_file)  # also says "ready"
    children: dict[int, socket.socket] = {}

    def reap(*_args: object) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                conn.close()

    signal.signal(signal.SIGCHLD, reap)
    while True:
        readable, _, _ = select.select([listener], [], [], 1.0)
        if parent and os.getppid() != parent:
            break  # the sandbox is gone; environments are reaped by their inits
        if not readable:
            continue
        conn, _ = listener.accept()
        fds: list[int] = []
        try:
            msg, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, most_fds)
            buf = msg
            while not buf.endswith(b"\n"):
                more = conn.recv(1 << 20)
                if not more:
                    break
                buf += more
            request = json.loads(buf)
        except (OSError, ValueError):
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        # An init comes with its socket and its log; a runtime with its output pipe.
        exec_request = inits and bool(request.get("exec"))
        if len(fds) != (2 if inits and not exec_request else 1):
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        # Until the child is registered, its SIGCHLD must wait, or a child that exits at
        # once would be reaped before anyone knows where to report it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            listener.close()
            for other in children.values():
                other.close()
            conn.close()
            if exec_request:
                become_exec(request, fds[0])
            if inits:
                become_init(request, fds)
            become_runtime(request, fds[0])
        for fd in fds:
            os.close(fd)
        children[pid] = conn
        with contextlib.suppress(OSError):
            conn.sendall(f"pid {pid}\n".encode())
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    for conn in children.values():
        conn.close()
    listener.close()
    for leftover in (path, modules_file):
        if os.path.exists(leftover):
            os.unlink(leftover)


if __name__ == "__main__":
    init_mode = sys.argv[1:2] == ["--init"]
    args = sys.argv[2:] if init_mode else sys.argv[1:]
    serve(args[0], args[1], int(args[2]) if len(args) > 2 else 0, inits=init_mode)
