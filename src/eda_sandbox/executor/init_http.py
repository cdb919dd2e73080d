"""HTTP for the init process (standard library only): the callback connection to
LocalStack's executor endpoint, and the server side of ``/invoke`` plus the Lambda
Runtime API. Every response is written in one ``send()`` with ``TCP_NODELAY`` set: a
small response split in two writes stalls ~40 ms on delayed ACK."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Protocol
from urllib.parse import urlsplit

API = "/2018-06-01/runtime"
# What RAPI answers a runtime's oversized response (rendering.RenderRequestEntityTooLarge).
RUNTIME_TOO_LARGE_REPLY = (
    b'{"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).", '
    b'"errorType": "RequestEntityTooLarge"}'
)


class _Invocation(Protocol):
    request_id: str
    payload: bytes
    function_arn: str
    trace_id: str
    deadline_ms: int
    finished: threading.Event
    outcome: tuple[bool, bytes, bytes]


class InitLike(Protocol):
    """What the request handler needs from the init (``init_process.Init``)."""

    direct: bool

    @property
    def current(self) -> _Invocation | None: ...
    def accept(self, body: dict[str, str]) -> _Invocation: ...
    def next_invocation(self) -> _Invocation | None: ...
    def init_error(self, body: bytes) -> None: ...
    def oversized_response(self, data: bytes) -> bytes | None: ...
    def finish(
        self, inv: _Invocation, body: bytes, *, error: bool, extra_log: str = ""
    ) -> None: ...


class Callback:
    """A keep-alive connection back to LocalStack's executor endpoint."""

    def __init__(self, endpoint: str) -> None:
        parts = urlsplit(endpoint)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.conn: http.client.HTTPConnection | None = None
        self.lock = threading.Lock()

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> None:
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        with self.lock:
            for attempt in (1, 2):
                try:
                    if self.conn is None:
                        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                        self.conn.connect()
                        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    # http.client sends headers and a bytes body in one send().
                    self.conn.request("POST", self.prefix + path, body=body, headers=headers)
                    self.conn.getresponse().read()
                    return
                except (OSError, http.client.HTTPException):
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                    if attempt == 2:
                        raise


class _Headers(dict[str, str]):
    """Request headers by lower-case name; ``get`` takes any case, as email's did."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


def make_handler(init: InitLike) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def parse_request(self) -> bool:
            """The request line and headers, without the email package.

            Why: ``http.server`` parses headers with ``email``, which was most of this
            process's CPU per invocation (py-spy: every invocation is three requests,
            ``/invoke``, ``next`` and ``response``). The peers are LocalStack and the
            runtime interface client; what they send is plain HTTP/1.1.
            """
            # Read by handle_one_request, which calls this (typeshed omits the attribute).
            raw_line: bytes = self.raw_requestline  # type: ignore[attr-defined]
            line = str(raw_line, "latin-1").rstrip("\r\n")
            self.requestline = line
            parts = line.split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self.request_version = "HTTP/1.1"
                self.send_error(400, f"Bad request line {line[:100]!r}")
                return False
            self.command, self.path, self.request_version = parts
            headers = _Headers()
            while True:
                raw = self.rfile.readline(65537)
                if raw in (b"\r\n", b"\n", b""):
                    break
                if len(raw) > 65536 or len(headers) >= 100:
                    self.send_error(431)
                    return False
                name, sep, value = str(raw, "latin-1").partition(":")
                if not sep:
                    self.send_error(400, f"Bad header line {raw[:100]!r}")
                    return False
                headers[name.strip().lower()] = value.strip()
            self.headers = headers  # type: ignore[assignment]
            connection = (headers.get("connection") or "").lower()
            old = self.request_version == "HTTP/1.0"
            self.close_connection = connection == "close" or (old and connection != "keep-alive")
            if (headers.get("expect") or "").lower() == "100-continue" and not old:
                # As http.server does: curl waits for this before a larger body.
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return True

        def reply(
            self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> None:
            # One send() per response: a split write stalls ~40 ms on delayed ACK.
            head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            head += [f"Content-Length: {len(body)}", "", ""]
            self.wfile.write("\r\n".join(head).encode("latin-1") + body)

        def body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            if self.path == f"{API}/invocation/next":
                inv = init.next_invocation()
                if inv is None:
                    self.reply(410)
                    return
                self.reply(
                    200,
                    inv.payload,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
                        "Lambda-Runtime-Trace-Id": inv.trace_id,
                    },
                )
            else:
                self.reply(404)

        def do_POST(self) -> None:
            data = self.body()
            path = self.path
            if path == "/invoke":
                inv = init.accept(json.loads(data))
                if not init.direct:
                    self.reply(202)
                    return
                inv.finished.wait()
                error, logs, payload = inv.outcome
                headers = {
                    "X-Eda-Error": "1" if error else "0",
                    "X-Eda-Logs-Length": str(len(logs)),
                }
                self.reply(200, logs + payload, headers)
            elif path == f"{API}/init/error":
                # Record it before replying: the runtime exits right after our reply.
                init.init_error(data)
                self.reply(202)
            elif path.startswith(f"{API}/invocation/") and path.endswith(("/response", "/error")):
                request_id = path.split("/")[-2]
                current = init.current
                too_large = init.oversized_response(data) if path.endswith("/response") else None
                if too_large is not None:
                    # As RAPI: the runtime is told 413, the invoke gets AWS's error.
                    self.reply(413, RUNTIME_TOO_LARGE_REPLY, {"Content-Type": "application/json"})
                    if current is not None and current.request_id == request_id:
                        init.finish(current, too_large, error=True)
                    return
                self.reply(202)
                if current is not None and current.request_id == request_id:
                    init.finish(current, data, error=path.endswith("/error"))
            else:
                self.reply(404)

    return Handler
