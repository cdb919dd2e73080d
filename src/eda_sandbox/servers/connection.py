"""One HTTP/1.1 client connection of the gateway server: parse, call WSGI, write back.

The parsing and writing half of ``gateway.py`` (see there for why it is written by
hand). Each connection is served on its own thread, request after request.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

LOG = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
"""Request line plus headers; AWS caps headers at 16 KiB, S3 metadata at 8 KiB."""
IDLE_TIMEOUT = 300.0
"""Seconds a keep-alive connection may stay silent (SDK pools keep theirs for minutes)."""
_RECV = 256 * 1024
_NO_BODY_STATUS = ("1", "204", "304")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field names

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# WSGI environ keys of header names seen before: SDK clients send the same dozen names
# on every request, and checking and converting each one was a tenth of a small
# request's cost in the DynamoDB process (py-spy). Only valid names are stored; the
# size bound keeps a client inventing names from growing it.
_KEYS: dict[bytes, str] = {}
_MAX_KEYS = 1024


def _environ_key(name: bytes, line: bytes) -> str:
    if not _TOKEN.fullmatch(name):
        raise BadRequest(f"bad header line {line[:100]!r}")
    key = name.decode("latin-1").upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    if len(_KEYS) < _MAX_KEYS:
        _KEYS[name] = key
    return key


class BadRequest(ValueError):
    """A request we cannot parse; answered with ``status`` and the connection closed."""

    def __init__(self, message: str, status: str = "400 Bad Request") -> None:
        super().__init__(message)
        self.status = status


class _Date:
    """The ``Date`` header, formatted once a second rather than per response."""

    def __init__(self) -> None:
        self._second = 0
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._value = formatdate(now, usegmt=True).encode("latin-1")
            self._second = now
        return self._value


_date = _Date()


class Connection:
    """One client connection, served request after request on its own thread."""

    def __init__(
        self,
        sock: socket.socket,
        peer: tuple[Any, ...],
        app: WsgiApp,
        local: tuple[str, int],
        tls: ssl.SSLContext | None,
    ) -> None:
        self.sock = sock
        self.peer = peer
        self.app = app
        self.local = local
        self.tls = tls
        self.secure = False
        self.buf = bytearray()

    # -- reading ------------------------------------------------------------------------
    def _fill(self) -> bool:
        data = self.sock.recv(_RECV)
        if not data:
            return False
        self.buf += data
        return True

    def _read_head(self) -> bytes | None:
        while True:
            # Tolerate the CRLFs some clients send between requests (RFC 9112 2.2).
            while self.buf[:2] == b"\r\n":
                del self.buf[:2]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[:end])
                del self.buf[: end + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("request head too large", "431 Request Header Fields Too Large")
            if not self._fill():
                if self.buf:
                    raise BadRequest("connection closed inside the request head")
                return None

    def _read_exact(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self._fill():
                raise BadRequest("connection closed inside the request body")
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    def _read_line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            if len(self.buf) > MAX_HEAD or not self._fill():
                raise BadRequest("bad chunked body")
        line = bytes(self.buf[:end])
        del self.buf[: end + 2]
        return line

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            # Hex digits only: int(..., 16) also takes "-2", "0x5" and "_", and a negative
            # size would slice the buffer from its end instead of reading the chunk.
            token = self._read_line().split(b";", 1)[0].strip()
            if not _HEX.fullmatch(token):
                raise BadRequest("bad chunk size in a chunked body")
            size = int(token, 16)
            if size == 0:
                while self._read_line():  # trailer fields, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self._read_exact(size))
            if self._read_exact(2) != b"\r\n":
                raise BadRequest("chunk not followed by CRLF")

    # -- one request --------------------------------------------------------------------
    def _environ(self, head: bytes) -> tuple[dict[str, Any], bool]:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            if lines[0].startswith(b"PRI * HTTP/2"):
                raise BadRequest(
                    "HTTP/2 is not served (GATEWAY_SERVER=twisted has it)",
                    "505 HTTP Version Not Supported",
                )
            raise BadRequest(f"bad request line {lines[0][:100]!r}")
        method, target, version = parts
        raw_headers: list[tuple[bytes, bytes]] = []
        environ: dict[str, Any] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise BadRequest(f"bad header line {line[:100]!r}")
            key = _KEYS.get(name) or _environ_key(name, line)
            value = value.strip()
            raw_headers.append((name, value))
            text = value.decode("latin-1")
            environ[key] = f"{environ[key]},{text}" if key in environ else text

        if target.startswith((b"http://", b"https://")):  # absolute form (proxies)
            target = b"/" + target.split(b"/", 3)[3] if target.count(b"/") >= 3 else b"/"
        path, _, query = target.partition(b"?")
        try:
            raw_uri = target.decode("utf-8")
        except UnicodeDecodeError:
            raw_uri = target.decode("latin-1")
        environ.update(
            {
                "REQUEST_METHOD": method.decode("latin-1"),
                "SCRIPT_NAME": "",
                "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
                "QUERY_STRING": query.decode("latin-1"),
                "RAW_URI": raw_uri,
                "REQUEST_URI": raw_uri,
                "SERVER_NAME": self.local[0],
                "SERVER_PORT": str(self.local[1]),
                "SERVER_PROTOCOL": version.decode("latin-1"),
                "REMOTE_ADDR": str(self.peer[0]),
                "REMOTE_PORT": str(self.peer[1]),
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "https" if self.secure else "http",
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": True,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
                "wsgi.input_terminated": True,
                # Raw names keep their casing, which rolo restores (AWS echoes some).
                "rolo.headers": raw_headers,
            }
        )
        connection = environ.get("HTTP_CONNECTION", "").lower()
        keep_alive = (
            "close" not in connection if version == b"HTTP/1.1" else ("keep-alive" in connection)
        )

        body = b""
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            self._continue(environ, version)
            body = self._read_chunked()
        elif length := environ.get("CONTENT_LENGTH"):
            if not length.isdigit() or not length.isascii():  # int() takes "+5", "1_0"
                raise BadRequest(f"bad Content-Length {length!r}")
            size = int(length)
            if size:
                self._continue(environ, version)
                body = self._read_exact(size)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        return environ, keep_alive

    def _continue(self, environ: dict[str, Any], version: bytes) -> None:
        # Only while the body has not started arriving: a client that stopped waiting
        # and sent it anyway must not get a stray interim response.
        if (
            version == b"HTTP/1.1"
            and not self.buf
            and environ.get("HTTP_EXPECT", "").lower() == "100-continue"
        ):
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _respond(self, environ: dict[str, Any], keep_alive: bool) -> bool:
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return written.append

        try:
            result = self.app(environ, start_response)
            chunks = iter(result)
            first = written + [c for c in [next(chunks, None)] if c is not None]
        except Exception:  # rolo answers errors itself; this is a bug in between
            LOG.exception(
                "eda gateway: %s %s failed", environ["REQUEST_METHOD"], environ["RAW_URI"]
            )
            self.sock.sendall(_error("500 Internal Server Error", "internal error"))
            return False
        try:
            status, headers = started
            head_only = environ["REQUEST_METHOD"] == "HEAD" or status.startswith(_NO_BODY_STATUS)
            names = {name.lower() for name, _ in headers}
            known_length = "content-length" in names
            chunked = (
                not known_length and not head_only and environ["SERVER_PROTOCOL"] == "HTTP/1.1"
            )
            if not known_length and not head_only and not chunked:
                keep_alive = False  # HTTP/1.0 without a length: the close ends the body
            out = [f"HTTP/1.1 {status}\r\n".encode("latin-1")]
            out += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers]
            out.append(b"Date: " + _date() + b"\r\n")
            if chunked:
                out.append(b"Transfer-Encoding: chunked\r\n")
            if not keep_alive and "connection" not in names:
                out.append(b"Connection: close\r\n")
            out.append(b"\r\n")
            if not head_only:
                out += [_frame(c) for c in first] if chunked else first
            # Head and body in one send: two sends on a keep-alive connection stall on
            # the peer's delayed ACK (~40 ms).
            self.sock.sendall(b"".join(out))
            for chunk in chunks:
                if chunk and not head_only:
                    self.sock.sendall(_frame(chunk) if chunked else chunk)
            if chunked:
                self.sock.sendall(b"0\r\n\r\n")
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return keep_alive and not any(
            k.lower() == "connection" and v.lower() == "close" for k, v in started[1]
        )

    def serve(self) -> None:
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(IDLE_TIMEOUT)
            if self.tls is not None and self.sock.recv(1, socket.MSG_PEEK) == b"\x16":
                self.sock = self.tls.wrap_socket(self.sock, server_side=True)
                self.secure = True
            while True:
                try:
                    head = self._read_head()
                    if head is None:
                        return
                    environ, keep_alive = self._environ(head)
                except BadRequest as e:
                    LOG.info("eda gateway: %s from %s", e, self.peer[0])
                    self.sock.sendall(_error(e.status, str(e)))
                    return
                if not self._respond(environ, keep_alive):
                    return
        except (OSError, ssl.SSLError):
            return  # the client went away or timed out: nothing to answer
        except Exception:
            LOG.exception("eda gateway: connection from %s failed", self.peer[0])
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()


def _frame(chunk: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunk else b""


def _error(status: str, message: str) -> bytes:
    body = (message + "\n").encode("utf-8")
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
