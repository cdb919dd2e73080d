"""A lean HTTP/1.1 server for LocalStack's gateway: ``GATEWAY_SERVER=eda``.

Why by hand: under load LocalStack's default server (twisted) spends about three quarters
of the GIL-holding time of a trivial request in its reactor, its WSGI thread-pool hand-off
and header adapters, not in LocalStack (py-spy, bench/RESULTS.md); hypercorn was slower
still. Our traffic is SDK clients on loopback with keep-alive connections, so one thread
per connection that reads a request, calls the gateway's WSGI app and writes the response
in one ``sendall`` does the same job with nothing in between. No library serves WSGI that
way: werkzeug's and wsgiref's servers parse headers through the ``email`` package, and
waitress and twisted hand each request from an I/O thread to a worker.

Scope: HTTP/1.1 and 1.0, keep-alive, ``Content-Length`` and chunked request bodies,
``Expect: 100-continue``, streamed (chunked) responses, and TLS on the same port (the
first byte tells them apart, as LocalStack's twisted multiplexer does). Not served:
HTTP/2 and WebSocket upgrades; ``GATEWAY_SERVER=twisted`` still has them.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
from typing import Any

from localstack import config
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from rolo.gateway import Gateway
from rolo.gateway.wsgi import WsgiGateway

from eda_sandbox.servers.connection import Connection, WsgiApp


class EdaRuntimeServer(RuntimeServer):
    """Accepts on every registered address; each connection gets a daemon thread."""

    def __init__(self) -> None:
        self._listeners: list[tuple[socket.socket, WsgiApp]] = []
        self._tls: ssl.SSLContext | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def register(
        self,
        gateway: Gateway,
        listen: list[config.HostAndPort],
        ssl_creds: tuple[str, str] | None = None,
    ) -> None:
        app: WsgiApp = WsgiGateway(gateway)
        if ssl_creds and self._tls is None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*ssl_creds)
            self._tls.set_alpn_protocols(["http/1.1"])
        for address in listen:
            family = socket.AF_INET6 if config.is_ipv6_address(address.host) else socket.AF_INET
            sock = socket.create_server(
                (address.host, address.port), family=family, backlog=1024, reuse_port=False
            )
            self._listeners.append((sock, app))

    def run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_r, selectors.EVENT_READ)
            for sock, app in self._listeners:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, app)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.data is None:
                        continue
                    try:
                        client, peer = key.fileobj.accept()  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        continue
                    client.setblocking(True)
                    self._start(client, peer, key.data, key.fileobj.getsockname()[:2])  # type: ignore[union-attr]
        for sock, _ in self._listeners:
            sock.close()
        self._wake_r.close()
        self._wake_w.close()

    def _start(
        self, client: socket.socket, peer: tuple[Any, ...], app: WsgiApp, local: tuple[str, int]
    ) -> None:
        connection = Connection(client, peer, app, local, self._tls)

        def serve() -> None:
            try:
                connection.serve()
            finally:
                with self._lock:
                    self._connections.discard(client)

        with self._lock:
            self._connections.add(client)
        threading.Thread(target=serve, name=f"eda-gw-{peer[1]}", daemon=True).start()

    def shutdown(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):  # run() may have returned and closed it
            self._wake_w.send(b"x")
        with self._lock:
            open_connections = list(self._connections)
        for client in open_connections:  # wakes threads blocked in recv
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)


class EdaRuntimeServerPlugin(RuntimeServerPlugin):
    name = "eda"

    def load(self, *args: Any, **kwargs: Any) -> RuntimeServer:
        return EdaRuntimeServer()
