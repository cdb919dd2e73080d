"""What every tracing patch shares: the instrument/uninstrument pair, the links between
hops recorded on one thread, and reading ids out of what LocalStack passes around.

In the style of OpenTelemetry's instrumentors (``BaseInstrumentor``): each service module
declares the upstream functions it wraps by dotted name; ``instrument()`` wraps them
with wrapt (``wrap_function_wrapper``) and ``uninstrument()`` puts the originals back.
Every wrapper is named ``_patched_<target>`` and returns straight to the original when
tracing is off. The wrappers sit on the providers and models, not on the gateway's
handler chain, so calls that our direct internal calls hand to a provider
(``patches/internal_calls/direct.py``) are recorded as much as calls over the wire.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import wrapt

from eda_sandbox.journeys.model import Hop, HopKind
from eda_sandbox.journeys.store import JourneyStore, get_store

LOG = logging.getLogger(__name__)

# The versions whose internals the wrappers were written against.
SUPPORTED = ("localstack-core==2026.3.0",)
_state = {"enabled": True, "instrumented": False}


class _ThreadState(threading.local):
    # Class defaults: a missing attribute on a plain threading.local costs an
    # AttributeError each time (1.5 us here, against 0.16 us), and every hop reads one.
    links: tuple[str, ...] = ()
    sns_trace_header: Any = None
    sns_batch_ids: tuple[str, ...] = ()
    dead_letter_send: Any = None
    events_rule: Any = None
    events_rules_started: bool = False
    events_later_entry: bool = False
    events_join_trace: bool = True
    sqs_receiver: Any = None
    sqs_batch_index: int | None = None


_local = _ThreadState()
# A body is parsed for its correlation id only when small and when it names one.
_MAX_BODY_SCAN = 64 * 1024


def enabled() -> bool:
    return _state["enabled"]


def set_enabled(value: bool) -> None:
    _state["enabled"] = value


def instrumented() -> bool:
    """Whether the wrappers are in place (the sandbox started with tracing on): only then
    can recording be switched on again at run time."""
    return _state["instrumented"]


def set_instrumented(value: bool) -> None:
    _state["instrumented"] = value


class Instrumentor:
    """Wraps ``TARGETS`` (``(module, "Class.method", "_patched_name")``) once."""

    TARGETS: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    def __init__(self, store: JourneyStore | None = None) -> None:
        self._store = store
        self._originals: list[tuple[Any, str, Any]] = []

    @property
    def store(self) -> JourneyStore:
        return self._store if self._store is not None else get_store()

    def instrument(self) -> None:
        if self._originals:
            return
        for module, name, patched in self.TARGETS:
            owner, attribute = _owner(module, name)
            # What the class itself holds (a plain function), not what getattr binds.
            self._originals.append((owner, attribute, vars(owner)[attribute]))
            wrapt.wrap_function_wrapper(module, name, getattr(self, patched))

    def uninstrument(self) -> None:
        for owner, attribute, original in reversed(self._originals):
            setattr(owner, attribute, original)
        self._originals.clear()

    def record(
        self,
        kind: HopKind,
        resource: str,
        *,
        keys: tuple[str | None, ...] | list[str | None] = (),
        correlation_ids: tuple[str | None, ...] | list[str | None] = (),
        trace_header: str | None = None,
        new: bool = False,
        join_trace: bool = True,
        at: float | None = None,
        failed: bool = False,
        reason: str | None = None,
        opens: tuple[str, ...] = (),
        closes: tuple[str, ...] = (),
        **detail: Any,
    ) -> str | None:
        """Record one hop; a patch must never break the call it watches, so errors are
        logged, not raised."""
        try:
            hop = Hop(
                kind=kind,
                at=time.time() if at is None else at,
                resource=resource,
                failed=failed,
                reason=reason,
                detail={k: v for k, v in detail.items() if v is not None},
                opens=opens,
                closes=closes,
            )
            return self.store.record(
                hop,
                keys=[*keys, *current_links()],
                correlation_ids=correlation_ids,
                trace_id=trace_root(trace_header),
                new=new,
                join_trace=join_trace,
            )
        except Exception:  # tracing must not change what it traces
            LOG.exception("could not record a %s hop", kind)
            return None


def _owner(module: str, name: str) -> tuple[Any, str]:
    """The object holding ``name`` (``"Class.method"`` or ``"function"``) in ``module``."""
    owner: Any = importlib.import_module(module)
    *path, attribute = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute


def current_links() -> tuple[str, ...]:
    """Ids of the event this thread is handling now (set by :func:`linked`)."""
    return _local.links


@contextlib.contextmanager
def linked(*keys: str | None) -> Iterator[None]:
    """Hops recorded on this thread inside the block belong to the journey of ``keys``:
    SNS hands a message to SQS, EventBridge a rule's event to a target, in one call."""
    before = current_links()
    _local.links = before + tuple(k for k in keys if k)
    try:
        yield
    finally:
        _local.links = before


def thread_value(name: str) -> Any:
    return getattr(_local, name, None)


def set_thread_value(name: str, value: Any) -> None:
    """Set a flag that a later call on this thread reads (no block to restore it)."""
    setattr(_local, name, value)


@contextlib.contextmanager
def thread_set(name: str, value: Any) -> Iterator[None]:
    before = getattr(_local, name, None)
    setattr(_local, name, value)
    try:
        yield
    finally:
        setattr(_local, name, before)


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    """An argument of the wrapped call, however it was passed."""
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else None


def trace_root(header: object) -> str | None:
    """``Root=1-5759e988-bd862e3fe1be46a994272793;Parent=...`` -> ``1-5759e988-bd86...``."""
    if header is None:
        return None
    if isinstance(header, str) and header.startswith("Root="):
        # AWS writes Root first; every hop reads one, so no split.
        end = header.find(";")
        return (header[5:] if end < 0 else header[5:end]).strip() or None
    root = getattr(header, "root", None)  # LocalStack's TraceHeader
    if root:
        return str(root)
    for part in str(header).split(";"):
        name, _, value = part.strip().partition("=")
        if name == "Root" and value:
            return value
    return None


def short_name(arn: str | None) -> str:
    """The resource name at the end of an ARN (queue, topic, function, rule)."""
    if not arn:
        return "-"
    tail = arn.rsplit(":", 1)[-1] if arn.startswith("arn:") else arn.rsplit("/", 1)[-1]
    return tail.rsplit("/", 1)[-1]


def attribute_value(attributes: Any, name: str) -> str | None:
    """A message attribute's string value, in SNS, SQS or Lambda event spelling."""
    if not isinstance(attributes, dict):
        return None
    value = attributes.get(name)
    if isinstance(value, dict):
        found = value.get("StringValue") or value.get("stringValue") or value.get("Value")
        return str(found) if found is not None else None
    return None


def body_correlation_id(body: object) -> str | None:
    """``correlation_id`` of a JSON object body, when it has one (cheap check first)."""
    if not isinstance(body, str) or len(body) > _MAX_BODY_SCAN or "correlation_id" not in body:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, dict):
        cid = value.get("correlation_id")
        if cid is None and isinstance(value.get("detail"), dict):
            cid = value["detail"].get("correlation_id")
        return str(cid) if cid is not None else None
    return None


def simple_attributes(attributes: Any) -> dict[str, str]:
    """Message attributes as name -> string value, for a hop's detail."""
    if not isinstance(attributes, dict):
        return {}
    return {k: v for k in attributes if (v := attribute_value(attributes, k)) is not None}


Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
