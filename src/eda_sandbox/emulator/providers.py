"""LocalStack service providers that eda-sandbox adds (loaded inside LocalStack's process).

``dynamodb:moto`` serves DynamoDB from moto's pure-Python backend. LocalStack's own
DynamoDB provider downloads DynamoDB Local and a JDK on first use, which an offline
machine cannot do; moto ships inside ``moto-ext`` (already a LocalStack dependency),
supports conditional writes, ``UpdateItem`` expressions and TTL settings, and starts in
milliseconds. Chosen with ``PROVIDER_OVERRIDE_DYNAMODB=moto`` (the launcher sets it).

Where moto runs is ``Settings.dynamodb_server``: ``process`` (default) starts
``servers/dynamodb.py`` as a child process and forwards every request to it, as
LocalStack's own provider forwards to DynamoDB Local; ``inline`` calls moto inside
LocalStack's process.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from localstack.services.plugins import Service, aws_provider

from eda_sandbox.config import load_settings
from eda_sandbox.errors import SnapshotError

LOG = logging.getLogger(__name__)
_server: subprocess.Popen[bytes] | None = None
_server_url: str | None = None
_ready_fd: int | None = None
_server_failure: str | None = None


def dynamodb_endpoint() -> str | None:
    """The DynamoDB process's URL while one runs; Lambda functions are pointed at it."""
    return _server_url


def _start_server() -> str:
    """Start ``servers/dynamodb.py`` on a socket bound here, so its port is known and no
    request can come before it listens (the kernel queues them until it accepts)."""
    global _server, _server_url
    settings = load_settings()
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env = dict(
        os.environ,
        EDA_DYNAMODB_FD=str(listener.fileno()),
        EDA_DYNAMODB_PARENT_PID=str(os.getpid()),
    )
    fds = [listener.fileno()]
    ready_read = None
    if settings.persist:
        # With persistence the process loads its tables first; a snapshot it cannot read
        # must stop ``up`` with the file's name, not leave DynamoDB empty or dead.
        ready_read, ready_write = os.pipe()
        env["EDA_DYNAMODB_READY_FD"] = str(ready_write)
        fds.append(ready_write)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (settings.state_dir / "dynamodb.log").open("ab") as log:
        # Same process group as LocalStack: ``eda-sandbox down`` stops both.
        _server = subprocess.Popen(
            [sys.executable, "-m", "eda_sandbox.servers.dynamodb"],
            env=env,
            pass_fds=tuple(fds),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    listener.close()
    if ready_read is not None:
        os.close(int(env["EDA_DYNAMODB_READY_FD"]))
    global _ready_fd
    _ready_fd = ready_read
    _server_url = url
    LOG.info("DynamoDB process %s serves %s", _server.pid, url)
    return url


def _check_server(**_: Any) -> None:
    """The service's check: with persistence, wait until the DynamoDB process has loaded
    its tables. LocalStack runs it as the service starts, and a raise marks the service
    ``error`` in its health, so ``eda-sandbox up`` stops at once with this message."""
    global _ready_fd, _server_failure
    fd, _ready_fd = _ready_fd, None
    if fd is not None:
        with os.fdopen(fd) as ready:
            # Blocks until the child writes or exits (its end closes either way).
            answer = ready.read().strip()
        if answer != "ready":
            log = load_settings().state_dir / "dynamodb.log"
            _server_failure = answer or f"the DynamoDB process exited before serving ({log})"
    if _server_failure:
        raise SnapshotError(_server_failure)


def _forwarder(proxy: Any) -> Any:  # a LocalStack ServiceRequestHandler
    """Forward a request to the DynamoDB process; if it cannot be reached, answer with
    an error that says why and where its log is, not a bare connection error."""
    import requests
    from localstack.aws.api import CommonServiceException

    def forward(context: Any, _request: Any) -> Any:
        try:
            # The raw request goes on as it came (LocalStack added x-moto-account-id);
            # the answer is parsed, so errors surface as LocalStack's own exceptions.
            return proxy.forward(context)
        except requests.exceptions.ConnectionError as e:
            server = _server
            code = server.poll() if server is not None else None
            state = f"exited with status {code}" if code is not None else "is not answering"
            log = load_settings().state_dir / "dynamodb.log"
            raise CommonServiceException(
                "InternalFailure",
                f"the sandbox's DynamoDB process {state} ({log}); its tables are gone "
                "with it: restart the sandbox (make down && make up)",
                status_code=500,
            ) from e

    return forward


def _stop_server() -> None:
    global _server, _server_url
    server, _server, _server_url = _server, None, None
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()


# moto applies an UpdateItem attribute by attribute, and LocalStack serves requests on
# many threads, so a concurrent GetItem could see an item half-updated and two
# conditional writes could both pass. DynamoDB makes every single-item operation
# atomic; one lock around each operation gives the same guarantee here.
_DYNAMODB_LOCK = threading.RLock()


def _atomic(handler: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return handler(*args, **kwargs)

    return call


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Any:
    # Imported lazily: plux builds the plugin index without loading LocalStack's API models.
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.aws.forwarder import AwsRequestProxy, ForwardingFallbackDispatcher
    from localstack.services.moto import MotoFallbackDispatcher
    from localstack.services.plugins import ServiceLifecycleHook

    class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
        """Every operation falls through to moto (no override raises NotImplementedError)."""

        def on_before_stop(self) -> None:
            _stop_server()

    def dispatch_table(provider: object) -> dict[str, Any]:
        if load_settings().dynamodb_server == "inline":
            from eda_sandbox.patches import moto, switch

            if switch.enabled():
                moto.apply()  # the DynamoDB process applies its own
            return {op: _atomic(h) for op, h in MotoFallbackDispatcher(provider).items()}
        proxy = AwsRequestProxy(_start_server())
        return ForwardingFallbackDispatcher(provider, _forwarder(proxy))

    service = Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=dispatch_table)
    service.check_function = _check_server
    return service
