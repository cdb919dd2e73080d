"""Settings: one frozen object built from environment variables when asked for.

Standard AWS variables come first (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``); our own
variables are prefixed ``EDA_SANDBOX_``. A bad value raises :class:`SettingsError` naming
the variable.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from eda_sandbox.errors import SettingsError

DEFAULT_SERVICES: tuple[str, ...] = (
    "sns",
    "sqs",
    "events",
    "lambda",
    "logs",
    "iam",
    "sts",
    "s3",
    "dynamodb",
)
LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
GATEWAY_SERVERS = ("eda", "twisted", "hypercorn")
DYNAMODB_SERVERS = ("process", "inline")
RETRY_DELAYS = ("compressed", "aws")
# ``compressed`` divides AWS's retry delays by this: Lambda's async retries after 1 and 2
# minutes come after 1 and 2 s, and EventBridge's back-off shrinks alike.
RETRY_COMPRESSION = 60
# Where the sandbox serves its journey store (patches/tracing/endpoint.py).
JOURNEYS_PATH = "/_eda-sandbox/journeys"
# Where the sandbox says whether it enforces IAM (patches/iam/enforce.py).
IAM_PATH = "/_eda-sandbox/iam"
# A role tagged so ("true") is checked even when IAM is not enforced for every role.
IAM_OPT_IN_TAG = "eda-sandbox:enforce-iam"
# Where it serves its queues' statistics, oldest message age included (patches/sqs/).
QUEUES_PATH = "/_eda-sandbox/queues"


@dataclass(frozen=True)
class Settings:
    """Everything the launcher, the executor and the harness need to agree on."""

    host: str = "127.0.0.1"
    port: int = 4566
    state_dir: Path = field(default_factory=lambda: Path(".sandbox").resolve())
    services: tuple[str, ...] = DEFAULT_SERVICES
    log_level: str = "warn"
    region: str = "us-east-1"
    endpoint_url: str = "http://127.0.0.1:4566"
    ready_timeout: float = 60.0
    esm_poll_interval: float = 0.0
    esm_idle_poll: float = 0.1
    runtimes_override: Path | None = None
    lambda_results: str = "direct"
    zygote: bool = True
    gateway_server: str = "eda"
    dynamodb_server: str = "process"
    esm_pollers: int = 4
    async_invokers: int = 16
    lambda_starts: int = 2
    retry_delays: str = "compressed"
    # Journey tracing (patches/tracing/): on by default, the last ``journeys`` kept.
    tracing: bool = True
    journeys: int = 1000
    # Functions' calls checked against their roles' identity policies (patches/iam/).
    enforce_iam: bool = False
    # Opt-in persistence (persistence/): queues, topics, rules, roles and DynamoDB tables
    # survive ``make down`` / ``make up``, and a crash loses at most the last second.
    persist: bool = False

    @property
    def retry_delay_factor(self) -> float:
        """What AWS's retry delays are multiplied by: 1/60 when compressed, 1 for AWS's own."""
        return 1.0 if self.retry_delays == "aws" else 1 / RETRY_COMPRESSION

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "localstack.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "localstack.log"

    @property
    def envs_dir(self) -> Path:
        """One file per live Lambda execution environment, for ``down``'s safety net."""
        return self.state_dir / "envs"

    @property
    def layers_dir(self) -> Path:
        """Lambda layers merged per layer list: each environment's ``/opt``."""
        return self.state_dir / "opt"

    @property
    def runtimes_dir(self) -> Path:
        return self.runtimes_override or self.state_dir / "runtimes"

    @property
    def build_dir(self) -> Path:
        return self.state_dir / "build"

    @property
    def outputs_file(self) -> Path:
        return self.state_dir / "outputs.json"

    @property
    def persist_dir(self) -> Path:
        """The snapshots of ``EDA_SANDBOX_PERSIST=1``: one file per service."""
        return self.state_dir / "persist"

    @property
    def journeys_dir(self) -> Path:
        """OTLP JSON files of the recorded journeys."""
        return self.state_dir / "journeys"

    @property
    def journeys_url(self) -> str:
        return f"{self.endpoint_url}{JOURNEYS_PATH}"

    @property
    def iam_url(self) -> str:
        return f"{self.endpoint_url}{IAM_PATH}"

    @property
    def health_url(self) -> str:
        return f"{self.endpoint_url}/_localstack/health"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise SettingsError(name, raw, "is not an integer port") from e
    if not 1 <= value <= 65535:
        raise SettingsError(name, raw, "is not between 1 and 65535")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise SettingsError(name, raw, "is not a number") from e
    if value < 0 or (value == 0 and not allow_zero):
        raise SettingsError(
            name, raw, "must not be negative" if allow_zero else "must be greater than 0"
        )
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise SettingsError(name, raw, "is not a whole number") from e
    if value < 1:
        raise SettingsError(name, raw, "must be 1 or more")
    return value


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SettingsError(name, raw, "must be 1 or 0")


def _host(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name) or default
    try:
        ipaddress.ip_address(raw)
    except ValueError as e:
        raise SettingsError(name, raw, "is not an IP address to bind to") from e
    return raw


def _endpoint(env: Mapping[str, str], host: str, port: int) -> str:
    raw = env.get("AWS_ENDPOINT_URL")
    if not raw:
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        if ":" in connect_host:
            connect_host = f"[{connect_host}]"
        return f"http://{connect_host}:{port}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError("AWS_ENDPOINT_URL", raw, "is not an http(s) URL")
    return raw.rstrip("/")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default: ``os.environ``) now, not at import."""
    env = os.environ if env is None else env
    host = _host(env, "EDA_SANDBOX_HOST", "127.0.0.1")
    port = _port(env, "EDA_SANDBOX_PORT", 4566)
    state_dir = Path(env.get("EDA_SANDBOX_STATE_DIR") or ".sandbox").expanduser().resolve()

    services_raw = env.get("EDA_SANDBOX_SERVICES")
    services = DEFAULT_SERVICES
    if services_raw:
        services = tuple(s.strip() for s in services_raw.split(",") if s.strip())
        if not services:
            raise SettingsError("EDA_SANDBOX_SERVICES", services_raw, "names no service")
        missing = [s for s in ("sts", "iam", "logs") if s not in services]
        if "lambda" in services and missing:
            raise SettingsError(
                "EDA_SANDBOX_SERVICES", services_raw, f"lambda needs {', '.join(missing)} too"
            )

    log_level = (env.get("EDA_SANDBOX_LOG_LEVEL") or "warn").lower()
    if log_level not in LOG_LEVELS:
        raise SettingsError(
            "EDA_SANDBOX_LOG_LEVEL", log_level, f"must be one of {', '.join(LOG_LEVELS)}"
        )

    lambda_results = env.get("EDA_SANDBOX_LAMBDA_RESULTS") or "direct"
    if lambda_results not in ("direct", "callback"):
        raise SettingsError(
            "EDA_SANDBOX_LAMBDA_RESULTS", lambda_results, "must be 'direct' or 'callback'"
        )

    # LocalStack's own variable: ``eda`` is our lean server (servers/gateway.py); twisted
    # (LocalStack's default) is still there for HTTP/2 and WebSocket clients.
    gateway_server = (env.get("GATEWAY_SERVER") or "eda").strip().lower()
    if gateway_server not in GATEWAY_SERVERS:
        raise SettingsError(
            "GATEWAY_SERVER", gateway_server, f"must be one of {', '.join(GATEWAY_SERVERS)}"
        )

    # ``process``: moto's DynamoDB in its own process (servers/dynamodb.py), which
    # functions call directly; ``inline``: inside LocalStack's process.
    dynamodb_server = (env.get("EDA_SANDBOX_DYNAMODB") or "process").strip().lower()
    if dynamodb_server not in DYNAMODB_SERVERS:
        raise SettingsError(
            "EDA_SANDBOX_DYNAMODB", dynamodb_server, f"must be one of {', '.join(DYNAMODB_SERVERS)}"
        )

    # Lambda's async retries and EventBridge's target retries: AWS's minutes, or seconds.
    retry_delays = (env.get("EDA_SANDBOX_RETRY_DELAYS") or "compressed").strip().lower()
    if retry_delays not in RETRY_DELAYS:
        raise SettingsError(
            "EDA_SANDBOX_RETRY_DELAYS", retry_delays, f"must be one of {', '.join(RETRY_DELAYS)}"
        )

    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1"
    return Settings(
        host=host,
        port=port,
        state_dir=state_dir,
        services=services,
        log_level=log_level,
        region=region,
        endpoint_url=_endpoint(env, host, port),
        ready_timeout=_float(env, "EDA_SANDBOX_READY_TIMEOUT", 60.0, allow_zero=False),
        esm_poll_interval=_float(env, "EDA_SANDBOX_ESM_POLL_INTERVAL", 0.0, allow_zero=True),
        esm_idle_poll=_float(env, "EDA_SANDBOX_ESM_IDLE_POLL", 0.1, allow_zero=False),
        lambda_results=lambda_results,
        zygote=(env.get("EDA_SANDBOX_ZYGOTE") or "1") != "0",
        gateway_server=gateway_server,
        dynamodb_server=dynamodb_server,
        esm_pollers=_count(env, "EDA_SANDBOX_ESM_POLLERS", 4),
        async_invokers=_count(env, "EDA_SANDBOX_ASYNC_INVOKERS", 16),
        # One start per core at a time: a start is CPU-bound (an interpreter importing).
        tracing=_switch(env, "EDA_SANDBOX_TRACING", True),
        journeys=_count(env, "EDA_SANDBOX_JOURNEYS", 1000),
        enforce_iam=_switch(env, "EDA_SANDBOX_ENFORCE_IAM", False),
        persist=_switch(env, "EDA_SANDBOX_PERSIST", False),
        lambda_starts=_count(env, "EDA_SANDBOX_LAMBDA_STARTS", max(2, os.cpu_count() or 2)),
        retry_delays=retry_delays,
        runtimes_override=Path(env["EDA_SANDBOX_RUNTIMES_DIR"]).resolve()
        if env.get("EDA_SANDBOX_RUNTIMES_DIR")
        else None,
    )
