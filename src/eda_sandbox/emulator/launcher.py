"""The emulator launcher: LocalStack core in host mode, as a background process group.

State lives under ``Settings.state_dir``: ``localstack.pid`` (the pid on its first line,
``host:port`` on its second), ``localstack.log`` and one file per live Lambda execution
environment in ``envs/`` (written by the executor), so ``stop`` can leave no orphans even
if LocalStack itself died without cleaning up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata

from eda_sandbox.config import Settings
from eda_sandbox.emulator import ports
from eda_sandbox.errors import SandboxElsewhereError, SandboxStartError
from eda_sandbox.executor import zygotes

# Host credentials, profiles and config files must not reach LocalStack or, through it,
# the functions: a sandbox accepts any credentials, and a real key in a user's shell has
# no business in an emulator's process table or in a function's environment.
_HOST_ONLY_PREFIXES = ("AWS_",)


@dataclass(frozen=True)
class SandboxStatus:
    pid: int | None
    running: bool
    services: dict[str, str]
    endpoint_url: str

    @property
    def ready(self) -> bool:
        return self.running and bool(self.services)


def plugin_cache_key() -> str:
    """Changes whenever our entry points or LocalStack's version do."""
    ours = metadata.distribution("eda-sandbox").read_text("entry_points.txt") or ""
    blob = f"{metadata.version('localstack-core')}\0{ours}".encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def localstack_env(settings: Settings) -> dict[str, str]:
    """Environment for LocalStack: offline, loopback, our executor, state in the repo."""
    state = settings.state_dir
    env = scrubbed_environment(os.environ)
    env.update(
        {
            "GATEWAY_LISTEN": f"{settings.host}:{settings.port}",
            "GATEWAY_SERVER": settings.gateway_server,
            # LocalStack's services call each other (SNS -> SQS, pollers -> SQS and
            # Lambda, Lambda -> Logs) through boto clients; in memory they skip HTTP.
            # Measured: 8 % less LocalStack CPU per event in a pipeline burst.
            "IN_MEMORY_CLIENT": env.get("IN_MEMORY_CLIENT") or "1",
            # Resource URLs (queue URLs, subscription endpoints) must not depend on
            # localhost.localstack.cloud resolving: it needs DNS we do not have.
            "LOCALSTACK_HOST": f"127.0.0.1:{settings.port}",
            "SQS_ENDPOINT_STRATEGY": "path",
            "DNS_ADDRESS": "0",
            "SERVICES": ",".join(settings.services),
            # The gateway serves first and the services load behind it
            # (patches/loading.py): eager loading held the port closed until all had.
            "EAGER_SERVICE_LOADING": "0",
            "LS_LOG": settings.log_level,
            # No run-time downloads: TLS certificate, analytics, DynamoDB Local/JDK.
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            "PROVIDER_OVERRIDE_DYNAMODB": "moto",
            "EDA_SANDBOX_DYNAMODB": settings.dynamodb_server,
            "EDA_SANDBOX_ESM_POLLERS": str(settings.esm_pollers),
            "EDA_SANDBOX_ASYNC_INVOKERS": str(settings.async_invokers),
            "EDA_SANDBOX_LAMBDA_STARTS": str(settings.lambda_starts),
            "LAMBDA_RUNTIME_EXECUTOR": "process",
            # LocalStack waits retries x this many seconds between async retries; AWS waits
            # 1 and 2 minutes (EDA_SANDBOX_RETRY_DELAYS=aws).
            "LAMBDA_RETRY_BASE_DELAY": str(round(60 * settings.retry_delay_factor)),
            "EDA_SANDBOX_RETRY_DELAYS": settings.retry_delays,
            "EDA_SANDBOX_ENFORCE_IAM": "1" if settings.enforce_iam else "0",
            "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": str(settings.esm_poll_interval),
            "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": str(
                settings.esm_idle_poll
            ),
            "LOCALSTACK_VOLUME_DIR": str(state / "volume"),
            "FILESYSTEM_ROOT": str(state / "filesystem"),
            "TMPDIR": str(state / "tmp"),
            "EDA_SANDBOX_STATE_DIR": str(state),
            # Read inside LocalStack (persistence/services.py) and by the DynamoDB process.
            "EDA_SANDBOX_PERSIST": "1" if settings.persist else "0",
            # Settings inside LocalStack must be the launcher's: the executor points
            # functions at this endpoint.
            "EDA_SANDBOX_HOST": settings.host,
            "EDA_SANDBOX_PORT": str(settings.port),
            "AWS_ENDPOINT_URL": settings.endpoint_url,
            "AWS_DEFAULT_REGION": settings.region,
            # botocore inside LocalStack (and the processes it starts) reads no profile,
            # and never asks an instance metadata service for credentials.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            # plux (LocalStack's plugin loader) caches entry points under ~/.cache;
            # this keeps that cache in the state folder, which `make clean` removes, in
            # a folder per set of entry points, so a reinstall that moved a plugin
            # (the December 2026 regroup moved all of ours) never loads a stale one.
            "XDG_CACHE_HOME": str(state / "cache" / plugin_cache_key()),
        }
    )
    # LocalStack must not talk to itself through a proxy.
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def scrubbed_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without any ``AWS_*`` variable (keys, session tokens, profiles, config
    and credential file paths, endpoints); the launcher then sets the few it needs."""
    return {k: v for k, v in environ.items() if not k.upper().startswith(_HOST_ONLY_PREFIXES)}


@dataclass(frozen=True)
class PidRecord:
    """What ``localstack.pid`` says: the pid, and where that sandbox listens."""

    pid: int
    host: str | None
    port: int | None


def write_pid_record(settings: Settings, pid: int) -> None:
    # The pid stays alone on the first line, so `kill $(head -1 localstack.pid)` works.
    settings.pid_file.write_text(f"{pid}\n{settings.host}:{settings.port}\n")


def read_pid_record(settings: Settings) -> PidRecord | None:
    """The record of a sandbox whose process is alive, else None."""
    try:
        lines = settings.pid_file.read_text().split()
        pid = int(lines[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if not _alive(pid):
        return None
    host, _, port = (lines[1] if len(lines) > 1 else "").rpartition(":")
    return PidRecord(pid, host or None, int(port) if port.isdigit() else None)


def _read_pid(settings: Settings) -> int | None:
    record = read_pid_record(settings)
    return record.pid if record else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def health(settings: Settings, timeout: float = 1.0) -> dict[str, str] | None:
    """Service states from LocalStack's health endpoint, or None if nothing answers."""
    try:
        with urllib.request.urlopen(settings.health_url, timeout=timeout) as resp:  # noqa: S310
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    services = body.get("services", {})
    return {name: str(state) for name, state in services.items()}


def _services_ready(settings: Settings, services: dict[str, str] | None) -> bool:
    """Ready once the gateway answers and no wanted service is missing or failed: an
    "available" service loads on the request that needs it, or before, in the background
    (patches/loading.py), and that request waits for the load rather than failing."""
    if not services:
        return False
    # With persistence, every service must have started: its start loads its snapshot,
    # and one it cannot read has to stop `up` with the reason, not fail a later request.
    accepted = ("running",) if settings.persist else ("available", "running")
    return all(services.get(s) in accepted for s in settings.services)


def status(settings: Settings) -> SandboxStatus:
    pid = _read_pid(settings)
    services = health(settings) or {}
    wanted = {name: services.get(name, "missing") for name in settings.services}
    return SandboxStatus(
        pid=pid,
        running=_services_ready(settings, services),
        services=wanted if services else {},
        endpoint_url=settings.endpoint_url,
    )


def start(settings: Settings) -> SandboxStatus:
    """Start LocalStack unless it already runs; wait until every service is ready."""
    record = read_pid_record(settings)
    if (
        record is not None
        and record.port is not None
        and ((record.host, record.port) != (settings.host, settings.port))
    ):
        raise SandboxElsewhereError(
            f"the sandbox of {settings.state_dir} already runs on {record.host}:{record.port} "
            f"(pid {record.pid}), not on {settings.host}:{settings.port}: use "
            f"EDA_SANDBOX_PORT={record.port}, stop it first (EDA_SANDBOX_PORT={record.port} "
            "make down), or give this one its own EDA_SANDBOX_STATE_DIR"
        )
    current = status(settings)
    if current.running:
        return current
    if current.pid is None:
        # Before starting anything: a port another process holds would otherwise show
        # only as LocalStack never becoming ready.
        answers = health(settings) is not None
        ports.ensure_free(settings.host, settings.port, settings.endpoint_url, answers=answers)
    for sub in ("tmp", "volume", "filesystem", "envs"):
        (settings.state_dir / sub).mkdir(parents=True, exist_ok=True)
    pid = current.pid
    if pid is None:
        log = settings.log_file.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "localstack.runtime.main"],
            env=localstack_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=settings.state_dir,
            # Own process group: `stop` signals the whole group, and a Ctrl-C in the
            # shell that ran `make up` does not reach it.
            start_new_session=True,
        )
        log.close()
        pid = proc.pid
        write_pid_record(settings, pid)
    _wait_ready(settings, pid)
    return status(settings)


def _wait_ready(settings: Settings, pid: int) -> None:
    deadline = time.monotonic() + settings.ready_timeout
    services: dict[str, str] | None = None
    interval = 0.05
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise SandboxStartError(
                f"LocalStack (pid {pid}) exited during start-up; last log lines:\n"
                + tail(settings, 30)
            )
        services = health(settings, timeout=0.5)
        if _services_ready(settings, services):
            return
        failed = sorted(s for s in settings.services if (services or {}).get(s) == "error")
        if failed:
            # A service that failed to start (a persisted snapshot it cannot load, say)
            # never becomes ready: say so now, with the log that has the reason.
            reasons = [
                line.split(" : ", 1)[-1]
                for line in tail(settings, 200).splitlines()
                if "error while starting service" in line or "error while checking service" in line
            ]
            raise SandboxStartError(
                f"LocalStack could not start {', '.join(failed)}: "
                + ("; ".join(reasons[-len(failed) :]) or "see its log")
                + "\nlast log lines:\n"
                + tail(settings, 30)
            )
        time.sleep(interval)  # polling the health endpoint, bounded by the deadline
        interval = min(interval * 1.5, 0.5)
    not_ready = {s: (services or {}).get(s, "missing") for s in settings.services}
    raise SandboxStartError(
        f"LocalStack not ready after {settings.ready_timeout:.0f}s "
        f"(EDA_SANDBOX_READY_TIMEOUT); services: {not_ready}; last log lines:\n"
        + tail(settings, 30)
    )


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)  # waiting for a process to exit, bounded
    return not _alive(pid)


def stop(settings: Settings, timeout: float = 10.0) -> list[int]:
    """Stop LocalStack and every execution environment it started. Returns pids stopped."""
    stopped: list[int] = []
    pid = _read_pid(settings)
    if pid is not None:
        # SIGTERM first: LocalStack's shutdown stops the Lambda environments cleanly.
        _kill_group(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            _kill_group(pid, signal.SIGKILL)
            _wait_gone(pid, 2.0)
        stopped.append(pid)
    stopped.extend(_reap_environments(settings))
    # The merged layer folders (/opt) belong to LocalStack's layer versions, which do not
    # outlive it.
    shutil.rmtree(settings.layers_dir, ignore_errors=True)
    # The fork servers' sockets live outside the state folder (zygotes.py says why);
    # a SIGKILLed fork server cannot remove its own.
    zygotes.remove_sockets(settings)
    settings.pid_file.unlink(missing_ok=True)
    return stopped


def _reap_environments(settings: Settings) -> list[int]:
    """Safety net: kill environment process groups LocalStack did not stop itself."""
    reaped: list[int] = []
    if not settings.envs_dir.is_dir():
        return reaped
    for record in settings.envs_dir.glob("*.json"):
        try:
            pgids = [int(p) for p in json.loads(record.read_text()).get("pgids", [])]
        except (ValueError, OSError, AttributeError):
            pgids = []
        for pgid in pgids:
            if _group_exists(pgid):
                _kill_group(pgid, signal.SIGKILL)
                reaped.append(pgid)
        record.unlink(missing_ok=True)
    # SIGKILL is asynchronous: return only once the groups are really gone, so "down"
    # means down for whoever checks right after (bounded).
    deadline = time.monotonic() + 3.0
    while any(_group_exists(p) for p in reaped) and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for the kernel to finish killing, bounded
    return reaped


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tail(settings: Settings, lines: int = 100) -> str:
    try:
        with settings.log_file.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(data.splitlines()[-lines:])
