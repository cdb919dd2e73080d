"""Patches to LocalStack's HTTP gateway (``on_infra_start`` hooks).

Upstream behaviour changed, and why:

- twisted parses every request's Content-Type through the email package (a speed-up);
  both twisted patches apply only when twisted serves the gateway, so the default
  ``eda`` server never imports it;
- LocalStack 2026.3.0's twisted server listens on every interface whatever host
  GATEWAY_LISTEN names (a security fix, always on);
- LocalStack builds a log record for every request even when no handler prints it (a
  speed-up).

Each speed-up is measured (bench/RESULTS.md) and keeps behaviour: the integration suites
run with them on.
"""

from __future__ import annotations

import logging
from typing import Any

from localstack.runtime import hooks

from eda_sandbox.patches.switch import enabled

LOG = logging.getLogger(__name__)


def _twisted_serves() -> bool:
    """Whether LocalStack's gateway runs on twisted. With another server (``eda``, ours,
    is the default) nothing needs twisted, and importing it only to patch it was a sixth
    of LocalStack's start-up CPU (py-spy, bench/RESULTS.md)."""
    from localstack import config

    return config.GATEWAY_SERVER == "twisted"


def _fast_content_type(line: bytes) -> bytes:
    """Twisted parses every request's Content-Type through the email package's header
    registry, about 1 ms a request and 12 % of LocalStack's CPU under a Lambda invoke
    loop (py-spy). A media type is the part before ``;``, case-insensitive; the email
    package answers ``text/plain`` for one without a ``/``, and so do we."""
    media = line.split(b";", 1)[0].strip().lower()
    return media if b"/" in media else b"text/plain"


@hooks.on_infra_start()
def patch_twisted_content_type(*_args: Any) -> None:
    if not enabled() or not _twisted_serves():
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
    if not _twisted_serves():
        return
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
