"""A running ``GATEWAY_SERVER=eda`` server on a loopback port, and raw-socket helpers,
for the gateway tests (``test_gateway_http.py``, ``test_gateway_lifecycle.py``)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from localstack.config import HostAndPort
from rolo import Response
from rolo.gateway import Gateway, HandlerChain, RequestContext

from eda_sandbox.servers.gateway import EdaRuntimeServer

TIMEOUT = 5.0
STREAM = [b"", b"first,", b"", b"second,", b"x" * 70_000]
"""The streamed body; empty pieces must not end the chunked framing early."""


def echo(chain: HandlerChain[RequestContext], context: RequestContext, response: Response) -> None:
    """Answers with what the server handed the gateway, or a special response by path."""
    request = context.request
    if request.path == "/stream":
        response.response = (piece for piece in STREAM)  # no Content-Length
        return
    if request.path == "/no-content":
        response.status_code = 204
        return
    env = request.environ
    response.set_json(
        {
            "method": request.method,
            "path": request.path,
            "path_info": env["PATH_INFO"],
            "raw_uri": env["RAW_URI"],
            "query": env["QUERY_STRING"],
            "headers": list(request.headers.items()),
            "body": request.get_data().decode("latin-1"),
            "remote_port": env["REMOTE_PORT"],
            "scheme": env["wsgi.url_scheme"],
            "x_dup": env.get("HTTP_X_DUP"),
        }
    )


@dataclass
class Running:
    server: EdaRuntimeServer
    thread: threading.Thread
    port: int

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)

    def http(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(ssl_creds: tuple[str, str] | None = None) -> Iterator[Running]:
    """A server on a free loopback port; shut down and joined however the test ends."""
    server = EdaRuntimeServer()
    port = free_port()
    server.register(Gateway(request_handlers=[echo]), [HostAndPort("127.0.0.1", port)], ssl_creds)
    thread = threading.Thread(target=server.run, name="eda-gw-test", daemon=True)
    thread.start()
    try:
        yield Running(server, thread, port)
    finally:
        server.shutdown()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "run() did not return after shutdown()"


def get_json(conn: http.client.HTTPConnection, method: str, url: str, **kw: Any) -> Any:
    conn.request(method, url, **kw)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    return json.loads(resp.read())


def read_response(sock: socket.socket, method: str = "GET") -> http.client.HTTPResponse:
    """Parses one response off a raw socket, leaving the connection usable."""
    resp = http.client.HTTPResponse(sock, method=method)
    resp.begin()
    return resp


def read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data
