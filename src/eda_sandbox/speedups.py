"""Fixes and speed-ups applied inside LocalStack's process (``on_infra_start`` hooks).

Each speed-up is measured (bench/RESULTS.md) and keeps behaviour: the integration suites
run with them on.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


def enabled() -> bool:
    """``EDA_SANDBOX_SPEEDUPS=0`` turns every speed-up off, for A/B measurements."""
    return os.environ.get("EDA_SANDBOX_SPEEDUPS", "1") != "0"


def _fast_content_type(line: bytes) -> bytes:
    """Twisted parses every request's Content-Type through the email package's header
    registry, about 1 ms a request and 12 % of LocalStack's CPU under a Lambda invoke
    loop (py-spy). A media type is the part before ``;``, case-insensitive; the email
    package answers ``text/plain`` for one without a ``/``, and so do we."""
    media = line.split(b";", 1)[0].strip().lower()
    return media if b"/" in media else b"text/plain"


@hooks.on_infra_start()
def patch_twisted_content_type(*_args: Any) -> None:
    if not enabled():
        return
    try:
        from twisted.web import http
    except ImportError:  # the hypercorn gateway does not use twisted
        return
    if hasattr(http, "_parseContentType"):
        http._parseContentType = _fast_content_type
        LOG.debug("eda-sandbox: twisted Content-Type parsing replaced")
    # Twisted formats a combined-log line for every request and hands it to its own
    # logging, which LocalStack never shows (it logs requests itself): about 3 % of
    # LocalStack's CPU in a pipeline burst (py-spy), for nothing.
    http.HTTPFactory.log = lambda self, request: None  # type: ignore[method-assign]


@hooks.on_infra_start()
def bind_gateway_to_its_host(*_args: Any) -> None:
    """Honour the host in GATEWAY_LISTEN (a security fix, always on).

    LocalStack 2026.3.0's twisted server builds ``TCP4ServerEndpoint(reactor, port)``
    without an interface (its own "TODO: interface = host?"), so a sandbox meant for
    127.0.0.1 listens on every interface. We wrap its ``register`` so the IPv4 endpoints it
    creates are bound to the configured host. Runs before the gateway is registered.
    """
    try:
        from localstack.runtime.server.twisted import TwistedRuntimeServer
        from twisted.internet import endpoints
    except ImportError:
        return
    from localstack.utils.patch import patch

    @patch(TwistedRuntimeServer.register)
    def register(fn: Any, self: Any, gateway: Any, listen: Any, ssl_creds: Any = None) -> Any:
        hosts = iter([hp.host for hp in listen if ":" not in hp.host])
        original = endpoints.TCP4ServerEndpoint

        def bound(reactor: Any, port: int, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("interface", next(hosts, ""))
            return original(reactor, port, *args, **kwargs)

        setattr(endpoints, "TCP4ServerEndpoint", bound)  # noqa: B010 - a class slot
        try:
            return fn(self, gateway, listen, ssl_creds)
        finally:
            setattr(endpoints, "TCP4ServerEndpoint", original)  # noqa: B010


@hooks.on_infra_start()
def skip_unseen_request_logs(*_args: Any) -> None:
    """Build LocalStack's per-request log records only when someone can see them.

    LocalStack pins the ``localstack.request`` loggers at INFO whatever LS_LOG says, and
    its ResponseLogger builds each record's ``extra`` (copies of the request and response
    headers, the parsed request) before the handlers drop it at WARN: about 7 % of
    LocalStack's CPU on small requests (py-spy). When no handler would print an INFO
    record, the call is skipped; with LS_LOG=info or lower nothing changes.
    """
    if not enabled():
        return
    from localstack.aws.handlers.logging import ResponseLogger

    def shown(logger: logging.Logger) -> bool:
        if not logger.isEnabledFor(logging.INFO):
            return False
        current: logging.Logger | None = logger
        while current is not None:
            if any(h.level <= logging.INFO for h in current.handlers):
                return True
            current = current.parent if current.propagate else None
        return False

    loggers = ("localstack.request.aws", "localstack.request.http",
               "localstack.request.internal.aws", "localstack.request.internal.http")  # fmt: skip
    if any(shown(logging.getLogger(name)) for name in loggers):
        return
    ResponseLogger._log = lambda self, context, response: None  # type: ignore[method-assign]
    LOG.debug("eda-sandbox: request logs below WARN are not built")


_SWEEP_SECONDS = 600.0
_FORCE_SWEEP_SECONDS = 3600.0
_QUIET_CPU_SHARE = 0.05


def keep_full_collections_short() -> None:
    """Freeze what survives each full garbage collection, so the next one is short.

    A full collection walks every tracked object, and in a long-lived sandbox most of
    them live as long as the process: modules, API specs, plugins, stored items and
    messages. Measured (``gc.callbacks``) during pipeline runs: the DynamoDB process ran
    a full collection every 5 s, taking 60-190 ms and growing with its tables, and
    LocalStack's took 140-265 ms; each stalls every request in flight (the DynamoDB
    process serves one operation at a time), which showed up as latency tails.

    Right after a full collection only live objects remain, and ``gc.freeze()`` moves
    them out of later collections (they are still freed when nothing refers to them).
    Cyclic garbage that was alive at that moment would be kept, so once every
    ``_SWEEP_SECONDS`` everything is unfrozen and collected in one full pass. That pass
    is as long as the old full collections, so it waits for a quiet second (under 5 %
    CPU) and only forces its way after ``_FORCE_SWEEP_SECONDS`` of constant load.
    """
    survived = threading.Event()

    def after_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            survived.set()  # freezing inside the collector's callback is avoided

    def freezer() -> None:
        swept = tick = time.monotonic()
        cpu = time.process_time()
        while True:
            if survived.wait(timeout=1.0):
                survived.clear()
                gc.freeze()
            now, used = time.monotonic(), time.process_time()
            quiet = used - cpu < _QUIET_CPU_SHARE * max(now - tick, 0.001)
            tick, cpu = now, used
            if now - swept >= _SWEEP_SECONDS and (quiet or now - swept >= _FORCE_SWEEP_SECONDS):
                gc.unfreeze()
                gc.collect()
                gc.freeze()
                survived.clear()  # that pass's own callback
                swept, tick, cpu = time.monotonic(), time.monotonic(), time.process_time()

    gc.collect()
    gc.freeze()
    gc.callbacks.append(after_collection)
    threading.Thread(target=freezer, name="eda-gc-freezer", daemon=True).start()


@hooks.on_infra_start()
def short_full_collections(*_args: Any) -> None:
    if enabled():
        keep_full_collections_short()


@hooks.on_infra_start()
def cache_moto_action_names(*_args: Any) -> None:
    if enabled():
        from eda_sandbox import moto_speedups

        moto_speedups.cache_action_names()
