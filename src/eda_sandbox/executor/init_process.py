"""The init process of one Lambda execution environment (standard library only).

Why hand-written: AWS's init (and LocalStack's Go fork of it) ships as a Linux binary that
LocalStack downloads at run time and runs inside a container. We need neither: this
process plays its part for one environment on the host. It

* serves the Lambda Runtime API (``/2018-06-01/runtime/...``) to the function's runtime
  interface client (awslambdaric, AWS's own, or our Node.js bootstrap), on a socket the
  executor bound for it;
* speaks LocalStack's executor protocol: it accepts ``POST /invoke`` and reports back to
  ``LOCALSTACK_RUNTIME_ENDPOINT`` with ``status/<id>/ready``, ``invocations/<id>/logs``
  and ``invocations/<id>/response|error`` (see LocalStack's ``executor_endpoint.py``);
* owns the runtime process: starts it, captures its stdout/stderr for CloudWatch Logs with
  START/END/REPORT lines, enforces the timeout (kills and replaces the runtime), and turns
  a crash into an AWS-shaped ``Runtime.ExitError``.

It is started as ``python -I -S init_process.py`` and configured by environment variables
prefixed ``EDA_INIT_``; everything else in its environment is the function's.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

if not __package__:  # run as a script with -I -S: import the sibling module directly
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import init_limits  # type: ignore[import-not-found,unused-ignore]
    import isolation  # type: ignore[import-not-found,unused-ignore]
    import timers  # type: ignore[import-not-found,unused-ignore]
    from init_http import Callback, make_handler  # type: ignore[import-not-found,unused-ignore]
    from zygote_client import (  # type: ignore[import-not-found,unused-ignore]
        ForkedRuntime,
        ZygoteUnavailableError,
        inherited_kb,
        shadowed_names,
    )
else:
    from eda_sandbox.executor import init_limits, isolation, timers
    from eda_sandbox.executor.init_http import Callback, make_handler
    from eda_sandbox.executor.zygote_client import (
        ForkedRuntime,
        ZygoteUnavailableError,
        inherited_kb,
        shadowed_names,
    )


def runtime_command(env: Mapping[str, str]) -> list[str]:
    """The runtime's command line (``EDA_INIT_COMMAND``, a JSON list: the Node.js bootstrap,
    or awslambdaric); empty when unset, for awslambdaric on ``EDA_INIT_PYTHON``."""
    raw = env.get("EDA_INIT_COMMAND", "")
    return [str(part) for part in json.loads(raw)] if raw else []


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    function_arn: str
    trace_id: str
    deadline_ms: int
    started: float = field(default_factory=time.monotonic)
    picked_up: bool = False
    done: bool = False
    timer: timers.Timer | None = None
    # Direct mode: the outcome goes back on the /invoke response instead of callbacks.
    finished: threading.Event = field(default_factory=threading.Event)
    outcome: tuple[bool, bytes, bytes] = (False, b"", b"")


class Init:
    def __init__(self) -> None:
        env = os.environ
        self.env_id = env["LOCALSTACK_RUNTIME_ID"]
        self.callback = Callback(env["LOCALSTACK_RUNTIME_ENDPOINT"])
        self.python = env["EDA_INIT_PYTHON"]
        self.command = runtime_command(env)
        self.task_root = env["EDA_INIT_TASK_ROOT"]
        self.record = env.get("EDA_INIT_RECORD", "")
        self.function = env.get("EDA_INIT_FUNCTION", "")
        # "direct": answer /invoke with the outcome (saves two round trips through
        # LocalStack's gateway); "callback": LocalStack's executor protocol throughout.
        self.direct = env.get("EDA_INIT_RESULTS", "callback") == "direct"
        self.parent = int(env.get("EDA_INIT_PARENT_PID", "0"))
        self.timeout = float(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self.memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.handler = env.get("_HANDLER", "")
        self.zygote = env.get("EDA_INIT_ZYGOTE", "")
        self.zygote_modules = env.get("EDA_INIT_ZYGOTE_MODULES", "")
        # The server of inits execs the runtime's command (nothing preloaded to inherit).
        self.zygote_exec = env.get("EDA_INIT_ZYGOTE_EXEC") == "1"
        # AWS's limits and paths for the runtime process (isolation.py, limits.py).
        self.isolation: dict[str, Any] = json.loads(env.get("EDA_INIT_ISOLATION") or "{}")
        self.cgroup: str | None = self.isolation.get("cgroup")
        self.oom_baseline = 0
        # Where the init finds the code and layers (the runtime may see /var/task, /opt).
        self.host_path = env.get("EDA_INIT_HOST_PATH")
        self.provisioned = env.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency"
        self.runtime_env = {k: v for k, v in env.items() if not k.startswith("EDA_INIT_")}
        self.cond = threading.Condition()
        self.pending: Invocation | None = None
        self.current: Invocation | None = None
        self.runtime: subprocess.Popen[bytes] | ForkedRuntime | None = None
        self.runtime_started = 0.0
        self.init_duration: float | None = None
        self.init_failed = False
        self.init_reported = False
        self.ready_sent = False
        self.stopping = False
        self.log_lock = threading.Lock()
        self.log_buf = bytearray()
        self.log_fd: int | None = None

    # -- runtime process --------------------------------------------------------------
    def start_runtime(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self.runtime_started = time.monotonic()
        self.init_duration = None
        self.init_failed = False
        self.init_reported = False
        self.oom_baseline = init_limits.oom_kills(self.cgroup)
        proc = self.forked(write_fd) or self.spawned(write_fd)
        os.close(write_fd)
        self.runtime = proc
        self.log_fd = read_fd
        self.write_record()
        threading.Thread(target=self.pump_logs, args=(read_fd,), daemon=True).start()
        threading.Thread(target=self.watch_runtime, args=(proc,), daemon=True).start()

    def spawned(self, out_fd: int) -> subprocess.Popen[bytes]:
        """A runtime started plainly, with the whole MemorySize."""
        init_limits.set_memory_limit(self.cgroup, int(self.memory))
        proc: subprocess.Popen[bytes] = init_limits.spawn(
            self.runtime_argv(),
            self.isolation,
            cwd=self.task_root,
            env=self.runtime_env,
            stdin=subprocess.DEVNULL,
            stdout=out_fd,
            stderr=out_fd,
            # Its own group, so a timeout kills the runtime and anything it spawned.
            process_group=0,
        )
        return proc

    def forked(self, out_fd: int) -> ForkedRuntime | None:
        """A runtime forked from the preloaded zygote, when that is safe; else None."""
        if not self.zygote:
            return None
        if self.zygote_exec:
            return self.forked_exec(out_fd)
        path = [p for p in self.runtime_env.get("PYTHONPATH", "").split(os.pathsep) if p]
        host_path = self.host_path.split(os.pathsep) if self.host_path is not None else path
        try:
            shadowed = shadowed_names(self.zygote_modules, [self.task_root, *host_path])
            if shadowed:
                print(f"zygote skipped: the function ships {sorted(shadowed)}", flush=True)
                self.zygote = ""
                return None
            argv = ["awslambdaric", self.handler]
            cwd = self.isolation.get("cwd", self.task_root)
            init_limits.set_memory_limit(
                self.cgroup, int(self.memory), inherited_kb(self.zygote_modules)
            )
            return ForkedRuntime(
                self.zygote, argv, cwd, self.runtime_env, path, out_fd, self.isolation
            )
        except ZygoteUnavailableError as e:
            print(f"zygote unavailable, starting the runtime plainly: {e}", flush=True)
            return None

    def runtime_argv(self) -> list[str]:
        return self.command or [self.python, "-m", "awslambdaric", self.handler]

    def forked_exec(self, out_fd: int) -> ForkedRuntime | None:
        """The runtime's command exec'd by a child of the server of inits, which applies
        the isolation first (no trampoline), with the whole MemorySize."""
        try:
            init_limits.set_memory_limit(self.cgroup, int(self.memory))
            cwd = self.isolation.get("cwd", self.task_root)
            return ForkedRuntime(
                self.zygote, self.runtime_argv(), cwd, self.runtime_env, [], out_fd, self.isolation,
                exec_command=True,
            )  # fmt: skip
        except ZygoteUnavailableError as e:
            print(f"fork server unavailable, starting the runtime plainly: {e}", flush=True)
            return None

    def write_record(self) -> None:
        if not self.record:
            return
        pgids = [os.getpgrp()] + ([self.runtime.pid] if self.runtime else [])
        tmp = self.record + ".tmp"
        with open(tmp, "w") as f:
            record = {"env_id": self.env_id, "function": self.function, "pgids": pgids}
            json.dump({**record, "init_pid": os.getpid()}, f)
        os.replace(tmp, self.record)

    def pump_logs(self, fd: int) -> None:
        while True:
            try:
                select.select([fd], [], [])
            except (OSError, ValueError):
                return
            if not self.drain(fd):
                return

    def drain(self, fd: int | None) -> bool:
        """Move what the runtime wrote so far into the log buffer; False at EOF."""
        if fd is None:
            return False
        with self.log_lock:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    return True
                except OSError:
                    return False
                if not chunk:
                    return False
                self.log_buf += chunk

    def watch_runtime(self, proc: subprocess.Popen[bytes] | ForkedRuntime) -> None:
        code = proc.wait()
        with self.cond:
            if self.runtime is not proc:
                return  # replaced on purpose (timeout); already reported
            self.runtime = None
            inv = self.current or (self.pending if self.ready_sent else None)
        if inv is not None and not self.stopping:
            self.drain(self.log_fd)
            oom = init_limits.oom_kills(self.cgroup) > self.oom_baseline
            error_type, status = init_limits.exit_error(code, oom)
            msg = f"RequestId: {inv.request_id} Error: Runtime exited with error: {status}"
            self.finish(
                inv,
                json.dumps({"errorType": error_type, "errorMessage": msg}).encode(),
                error=True,
                extra_log=msg,
            )

    def kill_runtime(self) -> None:
        proc = self.runtime
        self.runtime = None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    # -- invocations ------------------------------------------------------------------
    def accept(self, body: dict[str, str]) -> Invocation:
        timeout_ms = int(self.timeout * 1000)
        inv = Invocation(
            request_id=body.get("invoke-id") or str(uuid.uuid4()),
            payload=(body.get("payload") or "").encode(),
            function_arn=body.get("invoked-function-arn", ""),
            trace_id=body.get("trace-id", ""),
            deadline_ms=int(time.time() * 1000) + timeout_ms,
        )
        # On the shared timer thread: a Timer thread per invocation cost 0.1-0.6 ms.
        inv.timer = timers.Timer(self.timeout, self.on_timeout, args=(inv,))
        with self.cond:
            self.pending = inv
            inv.timer.start()
            if self.runtime is None or self.init_failed:
                # Cold, or replaced after a timeout, crash or failed init (AWS re-runs init).
                self.kill_runtime()
                self.start_runtime()
            self.cond.notify_all()
        return inv

    def on_timeout(self, inv: Invocation) -> None:
        with self.cond:
            if inv.done:
                return
            self.kill_runtime()
        self.drain(self.log_fd)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        msg = f"Task timed out after {self.timeout:.2f} seconds"
        error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {inv.request_id} Error: {msg}",
        }
        self.finish(
            inv, json.dumps(error).encode(), error=True, extra_log=f"{stamp} {inv.request_id} {msg}"
        )

    def next_invocation(self) -> Invocation | None:
        with self.cond:
            if self.init_duration is None:
                self.init_duration = (time.monotonic() - self.runtime_started) * 1000
            self.send_ready()
            while self.pending is None and not self.stopping:
                self.cond.wait()
            inv, self.pending = self.pending, None
            if inv is not None:
                inv.picked_up = True
                self.current = inv
            return inv

    def send_ready(self) -> None:
        if not self.ready_sent:
            self.ready_sent = True
            try:
                self.callback.post(f"/status/{self.env_id}/ready", b"{}")
            except (OSError, http.client.HTTPException) as e:
                # LocalStack's start-up timeout then replaces this environment.
                print(f"could not report ready to LocalStack: {e}", flush=True)

    def init_error(self, body: bytes) -> None:
        """The handler failed to load. AWS reports it on the invoke and re-runs init next
        time; an environment started ahead of any invoke fails to start instead."""
        with self.cond:
            self.init_failed = True
            inv = self.pending or self.current
            if inv is None and self.start_failed(body):
                return
            self.send_ready()
        if inv is not None:
            self.finish(inv, body, error=True)

    def start_failed(self, body: bytes) -> bool:
        """Report a failed init through the executor protocol (``status/<id>/error``), as
        LocalStack's own init does, so provisioned concurrency ends FAILED with
        FUNCTION_ERROR_INIT_FAILURE. Only for provisioned environments: an on-demand one
        is started for an invoke, which gets the error, with the init's logs, as on AWS."""
        if not self.provisioned or self.ready_sent:
            return False
        self.ready_sent = True  # LocalStack stops this environment now
        try:
            self.callback.post(f"/status/{self.env_id}/error", body)
        except (OSError, http.client.HTTPException) as e:
            print(f"could not report the failed init to LocalStack: {e}", flush=True)
        return True

    def finish(self, inv: Invocation, body: bytes, *, error: bool, extra_log: str = "") -> None:
        with self.cond:
            if inv.done:
                return
            inv.done = True
            if self.current is inv:
                self.current = None
            if self.pending is inv:
                self.pending = None
        if inv.timer is not None:
            inv.timer.cancel()
        self.drain(self.log_fd)
        with self.log_lock:
            output = self.log_buf.decode("utf-8", "replace")
            self.log_buf.clear()
        duration = (time.monotonic() - inv.started) * 1000
        init = ""
        if self.init_duration is not None and not self.init_reported:
            init = f"\tInit Duration: {self.init_duration:.2f} ms"
            self.init_reported = True
        output = init_limits.split_long_lines(output)
        lines = [f"START RequestId: {inv.request_id} Version: {self.version}\n", output]
        if output and not output.endswith("\n"):
            lines.append("\n")
        if extra_log:
            lines.append(extra_log + "\n")
        lines.append(f"END RequestId: {inv.request_id}\n")
        lines.append(
            f"REPORT RequestId: {inv.request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {self.memory} MB\t"
            f"Max Memory Used: {self.max_memory_mb()} MB{init}\n"
        )
        text = "".join(lines)
        if self.direct:
            inv.outcome = (error, text.encode(), body)
            inv.finished.set()
            return
        self.callback.post(
            f"/invocations/{inv.request_id}/logs", json.dumps({"logs": text}).encode()
        )
        kind = "error" if error else "response"
        self.callback.post(f"/invocations/{inv.request_id}/{kind}", body)

    def oversized_response(self, data: bytes) -> bytes | None:
        """AWS's error for a response over the synchronous limit, or None when it fits."""
        error: bytes | None = init_limits.response_too_large(len(data))
        return error

    def max_memory_mb(self) -> int:
        proc = self.runtime
        if proc is None:
            peak: int = init_limits.peak_memory_mb(self.cgroup)  # killed: the cgroup knows
            return peak
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return max(1, int(line.split()[1]) // 1024)
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def shutdown(self) -> None:
        self.stopping = True
        with self.cond:
            self.kill_runtime()
            self.cond.notify_all()
        if self.record:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.record)
        os._exit(0)

    def watch_parent(self) -> None:
        # PR_SET_PDEATHSIG fires when the spawning *thread* exits, and LocalStack spawns
        # environments from pool threads; polling the parent pid has no such trap.
        while True:
            time.sleep(0.5)  # a watchdog poll, not a test wait
            if self.parent and os.getppid() != self.parent:
                self.shutdown()


def main() -> int:
    init = Init()
    # AWS's ulimits for every runtime the init starts (a zygote child sets its own).
    isolation.set_rlimits(init.isolation.get("rlimits", {}))
    sock = socket.socket(fileno=int(os.environ["EDA_INIT_FD"]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(init), bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: init.shutdown())
    threading.Thread(target=init.watch_parent, daemon=True).start()
    with init.cond:
        init.start_runtime()  # the init phase starts with the environment, as on AWS
    try:
        server.serve_forever(poll_interval=3600)
    finally:
        init.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
