"""LocalStack runtime executor that runs each Lambda execution environment as local processes.

Why hand-written: LocalStack's only executor runs environments in Docker containers, and
no library runs them as host processes. This class is loaded inside LocalStack's process
through the ``localstack.lambda.runtime_executor`` entry point (name ``process``); LocalStack's
assignment service still decides when environments start, are reused and stop, so warm
reuse, concurrency and reserved concurrency behave as LocalStack models them.

One environment is one init process (``init_process.py``, its own process group) plus the
runtime process it starts (awslambdaric, or the Node.js bootstrap, on a per-version
runtime environment, see ``runtimes/``). The executor binds the init's socket itself and
hands it over, so there is no port race and the port is known before the process starts.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from localstack import config as ls_config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

from eda_sandbox.config import load_settings
from eda_sandbox.emulator import providers
from eda_sandbox.errors import RuntimeNotSupportedError
from eda_sandbox.executor import isolation, layers, limits, runtimes, zygotes
from eda_sandbox.patches.iam import principals as iam_principals

LOG = logging.getLogger(__name__)
INIT_SCRIPT = Path(__file__).with_name("init_process.py")
# LocalStack talks to us, and functions talk to LocalStack, over loopback.
LOOPBACK = "127.0.0.1"


def _aws_error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class ProcessRuntimeExecutor(RuntimeExecutor):
    """Runs a function version's execution environment as a local process group."""

    def __init__(self, id: str, function_version: Any) -> None:
        super().__init__(id, function_version)
        self.settings = load_settings()
        self.executor_endpoint = ExecutorEndpoint(id)
        self.proc: subprocess.Popen[bytes] | zygotes.ForkedInit | None = None
        self.port = 0
        self.conn: http.client.HTTPConnection | None = None
        self.conn_lock = threading.Lock()
        self.stopped = False
        self.env_dir = self.settings.envs_dir / id
        # This environment's /opt (layers.py): each runtime reads its own paths from it.
        self.opt = layers.Opt(None)
        self.record = self.settings.envs_dir / f"{id}.json"
        self.cgroup: limits.MemoryCgroup | None = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        version = self.function_version
        adapter = runtimes.adapter_for(version.config.runtime)
        rt = adapter.locate(self.settings.runtimes_dir)
        code = version.config.code
        if code is None:
            raise RuntimeNotSupportedError("function has no code package")
        code_dir = str(code.get_unzipped_code_location())
        tmp = self.env_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        self.opt = layers.opt_for(self.settings.layers_dir, self.function_version.config.layers)
        handler = env_vars.get("_HANDLER") or version.config.handler or ""
        command = adapter.command(rt, handler)
        spec = self._isolation(rt, command, code_dir, tmp)

        listener = socket.create_server((LOOPBACK, 0))
        self.port = listener.getsockname()[1]
        env = self._runtime_env(env_vars, adapter, rt, code_dir, tmp, spec)
        env.update(
            {
                "EDA_INIT_ISOLATION": json.dumps(spec),
                # The init checks the function's files for shadowed modules on the host.
                "EDA_INIT_HOST_PATH": adapter.environment(rt, code_dir, self.opt).get(
                    "PYTHONPATH", ""
                ),
                "EDA_INIT_FD": str(listener.fileno()),
                "EDA_INIT_PYTHON": str(rt.executable),
                "EDA_INIT_COMMAND": json.dumps(command),
                "EDA_INIT_TASK_ROOT": code_dir,
                "EDA_INIT_RECORD": str(self.record),
                "EDA_INIT_PARENT_PID": str(os.getpid()),
                "EDA_INIT_FUNCTION": version.qualified_arn,
                "EDA_INIT_RESULTS": self.settings.lambda_results,
            }
        )
        if adapter.PREFORKS:
            zygote = zygotes.ready(self.settings, rt.runtime)
            if zygote is not None:
                env["EDA_INIT_ZYGOTE"], env["EDA_INIT_ZYGOTE_MODULES"] = zygote
            else:
                zygotes.ensure(self.settings, rt)  # for the next environment
        elif (server := zygotes.ready(self.settings, zygotes.INITS)) is not None:
            env["EDA_INIT_ZYGOTE"], env["EDA_INIT_ZYGOTE_EXEC"] = server[0], "1"
        log = (self.env_dir / "init.log").open("ab")
        try:
            self.proc = zygotes.fork_init(
                self.settings, env, code_dir, listener.fileno(), log.fileno()
            ) or subprocess.Popen(
                [sys.executable, "-I", "-S", str(INIT_SCRIPT)],
                env=env,
                pass_fds=(listener.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=code_dir,
                start_new_session=True,
            )
        finally:
            log.close()
            listener.close()
        self._write_record([self.proc.pid])
        threading.Thread(
            target=self._watch, args=(self.proc,), name=f"lambda-env-{self.id[:8]}", daemon=True
        ).start()
        self.executor_endpoint.wait_for_startup()

    def _isolation(
        self, rt: runtimes.RuntimeEnv, command: list[str], code_dir: str, tmp: Path
    ) -> dict[str, Any]:
        """What ``isolation.py`` does in the runtime process: memory cgroup, mount
        namespace, ulimits and user, as far as this machine allows (``limits.py``)."""
        caps = limits.capabilities(self.settings.state_dir)
        cgroup = None
        if caps.cgroup_root is not None:
            self.cgroup = limits.MemoryCgroup(caps.cgroup_root, caps.cgroup_v2, self.id)
            try:
                cgroup = self.cgroup.create(int(self.function_version.config.memory_size))
            except OSError as e:
                LOG.warning("MemorySize not enforced for %s: %s", self.id, e)
                self.cgroup = None
        opt = [str(self.opt.root)] if self.opt.root is not None else []
        # What the runtime reads outside its code and layers: its interpreter's
        # installation (pyenv's may sit in /root), its venv, the files its command
        # names (Node's bootstrap) and the sandbox's state.
        interpreter = rt.executable.resolve().parent.parent
        named = [str(Path(a).parent) for a in command if a.startswith("/") and Path(a).exists()]
        runtime = [str(interpreter), str(rt.executable.parent), str(rt.library), *named]
        keep = [*runtime, str(self.settings.state_dir), code_dir, *opt]
        return limits.isolation_spec(
            caps, cgroup=cgroup, code_dir=code_dir, layers=opt, tmp=tmp, keep=keep
        )

    def _runtime_env(
        self,
        env_vars: dict[str, str],
        adapter: runtimes.RuntimeAdapter,
        rt: runtimes.RuntimeEnv,
        code_dir: str,
        tmp: Path,
        spec: dict[str, Any],
    ) -> dict[str, str]:
        """The function's environment: what LocalStack passes, adjusted for a host process.
        In a mount namespace the paths are AWS's (/var/task, /opt, /tmp)."""
        env = {k: str(v) for k, v in env_vars.items()}
        opt = self.opt
        if spec.get("mounts"):
            code_dir, tmp = isolation.TASK_ROOT, Path(isolation.TMP)
            opt = layers.Opt(Path(isolation.LAYERS_ROOT) if opt.root is not None else None)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"{LOOPBACK}:{self.port}",
                "LAMBDA_TASK_ROOT": code_dir,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{rt.runtime}",
                "LANG": "en_US.UTF-8",
                "TMPDIR": str(tmp),
                "HOME": str(tmp),
                "NO_PROXY": "*",
            }
        )
        # The module path (PYTHONPATH, NODE_PATH), PATH and what else the family sets.
        env.update(adapter.environment(rt, code_dir, opt))
        if not ls_config.LAMBDA_DISABLE_AWS_ENDPOINT_URL:
            env["AWS_ENDPOINT_URL"] = self.settings.endpoint_url
            # DynamoDB in its own process (providers.py): functions call it directly,
            # as on AWS, instead of through LocalStack's gateway. A function's own
            # setting wins. With IAM enforced (for every role, or for this function's by
            # its tag) they go through the gateway, where their calls are checked
            # (patches/iam/), and it forwards them to that process.
            checked = self.settings.enforce_iam or iam_principals.opted_in(
                str(self.function_version.config.role or "")
            )
            dynamodb = None if checked else providers.dynamodb_endpoint()
            if dynamodb and "AWS_ENDPOINT_URL_DYNAMODB" not in env_vars:
                env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb
        return env

    def _write_record(self, pgids: list[int]) -> None:
        self.record.parent.mkdir(parents=True, exist_ok=True)
        record = {"env_id": self.id, "function": self.function_version.qualified_arn}
        self.record.write_text(json.dumps({**record, "pgids": pgids}))

    def _watch(self, proc: subprocess.Popen[bytes] | zygotes.ForkedInit) -> None:
        """Fail whatever waits on an init process that died, instead of hanging LocalStack."""
        code = proc.wait()
        if self.stopped:
            return
        LOG.warning("Lambda environment %s: init process exited with %s", self.id, code)
        error = StatusErrorException(
            "execution environment exited",
            payload=_aws_error(
                "Runtime.ExitError",
                f"Error: execution environment exited unexpectedly (exit status {code})",
            ),
        )
        endpoint = self.executor_endpoint
        for future in (endpoint.startup_future, endpoint.invocation_future):
            if future is not None and not future.done():
                future.set_exception(error)

    def stop(self) -> None:
        self.stopped = True
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # the init kills its runtime and exits
                proc.wait(timeout=2)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self._kill_recorded_groups()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.conn is not None:
            self.conn.close()
        try:
            self.executor_endpoint.shutdown()
        except (KeyError, AttributeError) as e:
            LOG.debug("executor endpoint %s already gone: %s", self.id, e)
        self.record.unlink(missing_ok=True)
        shutil.rmtree(self.env_dir, ignore_errors=True)

    def _kill_recorded_groups(self) -> None:
        try:
            pgids = json.loads(self.record.read_text()).get("pgids", [])
        except (OSError, ValueError):
            pgids = [self.proc.pid] if self.proc else []
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pgid), signal.SIGKILL)

    # -- addresses --------------------------------------------------------------------
    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        return LOOPBACK

    def get_runtime_endpoint(self) -> str:
        port = ls_config.GATEWAY_LISTEN[0].port
        return f"http://{LOOPBACK}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    # -- invocation -------------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> Any:
        endpoint = self.executor_endpoint
        endpoint.invocation_future = Future()
        endpoint.logs = None
        # The init enforces the function timeout itself; this bound only protects
        # LocalStack from an init that stopped answering.
        bound = float(self.function_version.config.timeout) + 10.0
        status, headers, body = self._post_invoke(json.dumps(payload).encode(), bound)
        if status == 200:  # direct mode: the outcome came back on this response
            logs_length = int(headers.get("X-Eda-Logs-Length", "0"))
            return InvocationResult(
                request_id=payload["invoke-id"],
                payload=body[logs_length:],
                is_error=headers.get("X-Eda-Error") == "1",
                logs=body[:logs_length].decode("utf-8", "replace"),
            )
        if status != 202:
            raise StatusErrorException(
                "invoke refused",
                payload=_aws_error("Runtime.Unknown", f"init answered {status}"),
            )
        try:
            return endpoint.invocation_future.result(timeout=bound)
        except FutureTimeout as e:
            raise StatusErrorException(
                "no result from environment",
                payload=_aws_error("Runtime.Unknown", f"No result after {bound:.0f}s"),
            ) from e

    def _post_invoke(self, body: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        with self.conn_lock:
            for attempt in (1, 2):
                sent = False
                try:
                    if self.conn is None:
                        self.conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
                        self.conn.connect()
                        assert self.conn.sock is not None
                        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    assert self.conn.sock is not None
                    self.conn.sock.settimeout(timeout)
                    self.conn.request("POST", "/invoke", body=body, headers=headers)
                    sent = True
                    resp = self.conn.getresponse()
                    return resp.status, dict(resp.getheaders()), resp.read()
                except (OSError, http.client.HTTPException) as e:
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                    # Retry only a send on a stale kept-alive connection; once the init has
                    # the event, a retry could run the function twice.
                    dead = self.proc is not None and self.proc.poll() is not None
                    if attempt == 2 or sent or dead:
                        raise StatusErrorException(
                            "environment unreachable",
                            payload=_aws_error(
                                "Runtime.ExitError", f"Error: execution environment is gone ({e})"
                            ),
                        ) from e
        raise AssertionError("unreachable")

    def get_logs(self) -> str:
        try:
            return (self.env_dir / "init.log").read_text(errors="replace")[-8192:]
        except OSError:
            return ""

    # -- versions ---------------------------------------------------------------------
    @classmethod
    def prepare_version(cls, function_version: Any) -> None:
        """Fail fast (function State=Failed with the reason) for what we cannot run."""
        package_type = getattr(function_version.config, "package_type", "Zip")
        if package_type != "Zip":
            raise RuntimeNotSupportedError(
                "container image functions are not supported by the eda-sandbox process executor"
            )
        settings = load_settings()
        adapter = runtimes.adapter_for(function_version.config.runtime)
        rt = adapter.locate(settings.runtimes_dir)
        zygotes.ensure_inits(settings)
        if adapter.PREFORKS:
            zygotes.ensure(settings, rt)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
        # The merged /opt is built once here, not by the first environment's start.
        layers.opt_for(settings.layers_dir, function_version.config.layers)

    @classmethod
    def cleanup_version(cls, function_version: Any) -> None:
        return None

    @classmethod
    def validate_environment(cls) -> bool:
        return True
