"""Persistence of LocalStack's services (``EDA_SANDBOX_PERSIST=1``), inside its process.

Which services: SQS, SNS, EventBridge and IAM (and DynamoDB when it runs inline), the
ones whose state a developer builds up and LocalStack keeps in its stores
(``AccountRegionBundle``) or moto's backends (``BackendDict``). Each is found with
LocalStack's own ``ReflectionStateLocator``, pickled to
``<state>/persist/<service>.pickle`` and put back in place when the service starts,
before the health endpoint calls it running, so nothing reaches it half loaded.

Not kept, on purpose (the README says so): Lambda (its code lives in LocalStack's S3
object store, which keeps objects in unlinked temporary files no snapshot can copy;
``make up`` re-applies the topology, which re-creates functions and mappings as they
were declared), S3, CloudWatch Logs (they grow without bound and are a function's
output, not its input) and STS.

When: every second for each service that took a request which can change it (reads
are not counted; a ReceiveMessage only when it returned messages), and once more on
shutdown, before the services stop. A SIGKILL therefore loses at most the last second.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from localstack.runtime import hooks
from localstack.runtime.shutdown import SERVICE_SHUTDOWN_PRIORITY

from eda_sandbox.config import load_settings
from eda_sandbox.persistence import restore, snapshot
from eda_sandbox.persistence.flusher import Flusher
from eda_sandbox.persistence.tables import READ_OPERATIONS

LOG = logging.getLogger(__name__)
PERSISTED = ("sqs", "sns", "events", "iam")
# The crash bound: a SIGKILL loses at most this much.
FLUSH_INTERVAL = 1.0
_READS = ("Get", "List", "Describe")
_flusher: Flusher | None = None
_services: dict[str, Any] = {}  # name -> localstack.services.plugins.Service


def persisted() -> tuple[str, ...]:
    """The services saved here; DynamoDB too when it runs inside LocalStack
    (``EDA_SANDBOX_DYNAMODB=inline``), else its own process saves it (tables.py)."""
    inline = load_settings().dynamodb_server == "inline"
    return (*PERSISTED, "dynamodb") if inline else PERSISTED


def _path(name: str) -> Path:
    return load_settings().persist_dir / f"{name}.pickle"


def _containers(name: str) -> dict[str, Any]:
    """The service's state containers, keyed by type (stable across restarts)."""
    from localstack.state import StateVisitor
    from localstack.state.inspect import ReflectionStateLocator

    found: dict[str, Any] = {}

    class Collect(StateVisitor):
        def visit(self, state_container: Any) -> None:
            kind = type(state_container)
            found[f"{kind.__module__}.{kind.__qualname__}"] = state_container

    # LocalStack's stores and moto's backends of this service, where LocalStack's state
    # API looks for them (a provider's own accept_state_visitor omits moto's IAM).
    ReflectionStateLocator(service=name).accept_state_visitor(Collect())
    return found


def save(name: str) -> None:
    """Write the service's state; retried when another thread changed a dict mid-pickle."""
    containers = _containers(name)
    for attempt in range(5):
        try:
            data = snapshot.encode(containers)
            break
        except RuntimeError:  # "dictionary changed size during iteration"
            if attempt == 4:
                raise
            time.sleep(0.01)  # let the writer finish; bounded by the attempts
    snapshot.write(_path(name), data)


def load(name: str, service: Any) -> None:
    """Put the snapshot's state into the service's containers (none: leave it empty).

    Raises SnapshotCorruptError naming the file, so LocalStack reports the service as
    failed and ``eda-sandbox up`` stops with that message instead of starting empty.
    """
    path = _path(name)
    saved = snapshot.read(path)
    if saved is None:
        return
    lifecycle = getattr(service, "lifecycle_hook", None)
    if lifecycle is not None:
        lifecycle.on_before_state_load()
    current = _containers(name)
    for key, container in current.items():
        if key in saved:
            restore.into(container, saved[key])
    restore.after_load(name, getattr(service, "_provider", None))
    if lifecycle is not None:
        lifecycle.on_after_state_load()
    LOG.info("restored %s from %s", name, path)


def _marking(name: str, operation: str, handler: Any) -> Any:
    flusher = _flusher
    assert flusher is not None

    def call(context: Any, request: Any) -> Any:
        result = handler(context, request)
        if operation != "ReceiveMessage" or (isinstance(result, dict) and result.get("Messages")):
            flusher.mark(name)
        return result

    return call


def _watch(name: str, service: Any) -> None:
    """Wrap the service's dispatch table: the gateway and the sandbox's direct internal
    calls (patches/internal_calls) both call these handlers, so no change goes unseen."""
    table = service.skeleton.dispatch_table
    for operation, handler in list(table.items()):
        if not operation.startswith(_READS) and operation not in READ_OPERATIONS:
            table[operation] = _marking(name, operation, handler)


@hooks.on_infra_start(priority=20, should_load=lambda: load_settings().persist)
def persist_services() -> None:
    """Before any service loads (they load once the gateway serves): load each persisted one as
    it starts, and start the flusher."""
    global _flusher
    from localstack.services.plugins import Service

    _flusher = Flusher(save, FLUSH_INTERVAL, "eda-persist")
    original_start = Service.start
    names = persisted()

    def start(self: Any, asynchronous: bool) -> Any:
        result = original_start(self, asynchronous)
        name = self.name()
        if name in names:
            load(name, self)
            _watch(name, self)
            _services[name] = self
        return result

    Service.start = start  # type: ignore[method-assign]
    _flusher.start()


@hooks.on_infra_shutdown(
    priority=SERVICE_SHUTDOWN_PRIORITY + 10, should_load=lambda: load_settings().persist
)
def save_on_shutdown() -> None:
    """Before the services stop (their stop empties queues' waiters): save every
    persisted service that started, changed or not."""
    if _flusher is not None:
        _flusher.stop(final=list(_services))
