"""The ``GATEWAY_SERVER=eda`` HTTP/1.1 server, exercised over real loopback sockets.

Every SDK call to the sandbox goes through this hand-written parser and writer, so these
tests pin the parts of HTTP/1.1 where a small slip corrupts a keep-alive connection:
framing of request and response bodies, interim responses and errors (shutdown and TLS:
``test_gateway_lifecycle.py``).
"""

from __future__ import annotations

import json
import socket
from typing import Any, cast

import pytest
from gateway_harness import STREAM, Running, get_json, read_response, read_until_eof

from eda_sandbox.servers import connection as http_connection


# -- keep-alive and request bodies ------------------------------------------------------
def test_keep_alive_serves_many_requests_on_one_socket(srv: Running) -> None:
    """SDK pools reuse connections; a server that closes them costs a handshake a call."""
    conn = srv.http()
    first = get_json(conn, "GET", "/one")
    sock = conn.sock
    ports = {first["remote_port"]}
    for i in range(4):
        got = get_json(conn, "PUT", f"/n/{i}", body=b"b" * i)
        assert (got["method"], got["path"], got["body"]) == ("PUT", f"/n/{i}", "b" * i)
        assert conn.sock is sock
        ports.add(got["remote_port"])
    assert len(ports) == 1
    conn.close()


def test_content_length_body_arrives_intact(srv: Running) -> None:
    """Binary bodies larger than one recv must reach the gateway byte for byte."""
    body = bytes(range(256)) * 2048  # 512 KiB, every byte value
    conn = srv.http()
    got = get_json(conn, "POST", "/upload", body=body)
    assert got["body"].encode("latin-1") == body
    conn.close()


def test_chunked_request_body_with_extensions_and_trailers(srv: Running) -> None:
    """Chunked uploads are decoded and their trailers consumed, so the next request parses."""
    with srv.connect() as sock:
        sock.sendall(
            b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        assert json.loads(read_response(sock).read())["body"] == "hello world"
        sock.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert json.loads(read_response(sock).read())["path"] == "/after"


def test_expect_100_continue_precedes_the_body(srv: Running) -> None:
    """Clients that send ``Expect: 100-continue`` wait for the interim response."""
    with srv.connect() as sock:
        sock.sendall(
            b"PUT /obj HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            chunk = sock.recv(1)
            assert chunk, "connection closed before 100 Continue"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        resp = read_response(sock, "PUT")
        assert resp.status == 200
        assert json.loads(resp.read())["body"] == "hello"


def test_no_interim_response_when_body_already_sent(srv: Running) -> None:
    """A client that sent the body anyway must not get a stray 100 before the answer."""
    with srv.connect() as sock:
        sock.sendall(
            b"PUT /obj HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\nhello"
        )
        raw = read_until_eof(sock)
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert b"100 Continue" not in raw


# -- response framing -------------------------------------------------------------------
def test_streamed_response_is_chunked_over_http11(srv: Running) -> None:
    """A generator body without a length is framed chunked and keeps the connection."""
    conn = srv.http()
    conn.request("GET", "/stream")
    resp = conn.getresponse()
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Length") is None
    assert resp.read() == b"".join(STREAM)  # IncompleteRead if the framing is cut
    sock = conn.sock
    assert get_json(conn, "GET", "/next")["path"] == "/next"
    assert conn.sock is sock
    conn.close()


def test_streamed_response_over_http10_ends_with_close(srv: Running) -> None:
    """HTTP/1.0 has no chunked coding: the body ends where the connection does."""
    with srv.connect() as sock:
        sock.sendall(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        raw = read_until_eof(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close" in head.split(b"\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"".join(STREAM)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("HEAD", "/echo", 200), ("HEAD", "/stream", 200), ("DELETE", "/no-content", 204)],
)
def test_head_and_204_have_no_body(srv: Running, method: str, path: str, status: int) -> None:
    """A body or chunked terminator here would be read as the next response's status line."""
    conn = srv.http()
    conn.request(method, path)
    resp = conn.getresponse()
    assert resp.status == status
    assert resp.getheader("Transfer-Encoding") is None
    assert resp.read() == b""
    if path == "/echo":  # HEAD keeps the length the GET would have
        assert int(resp.getheader("Content-Length", "0")) > 0
    assert get_json(conn, "GET", "/after")["path"] == "/after"
    conn.close()


def test_head_and_small_body_go_out_in_one_send(
    srv: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Head and body in two sends stall ~40 ms on the client's delayed ACK."""
    sends: list[bytes] = []

    class CountingSocket:
        def __init__(self, sock: socket.socket) -> None:
            self._sock = sock

        def sendall(self, data: bytes) -> None:
            sends.append(bytes(data))
            self._sock.sendall(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._sock, name)

    original = http_connection.Connection.serve

    def serve(self: http_connection.Connection) -> None:
        self.sock = cast(socket.socket, CountingSocket(self.sock))
        original(self)

    monkeypatch.setattr(http_connection.Connection, "serve", serve)
    conn = srv.http()
    got = get_json(conn, "POST", "/small", body=b"tiny")
    conn.close()
    assert got["body"] == "tiny"
    assert len(sends) == 1
    head, _, body = sends[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["path"] == "/small"


# -- what reaches the gateway -----------------------------------------------------------
def test_percent_encoded_path_and_query(srv: Running) -> None:
    """S3 keys are percent-encoded: PATH_INFO decoded (WSGI latin-1), RAW_URI untouched."""
    target = "/bucket/a%20b/%E2%9C%93%2Fc?prefix=x%2By&list-type=2&flag"
    conn = srv.http()
    got = get_json(conn, "GET", target)
    conn.close()
    assert got["raw_uri"] == target
    assert got["path_info"] == "/bucket/a b/\u2713/c".encode().decode("latin-1")
    assert got["path"] == "/bucket/a b/\u2713/c"
    assert got["query"] == "prefix=x%2By&list-type=2&flag"


def test_header_casing_and_duplicates_are_preserved(srv: Running) -> None:
    """AWS echoes some header names as sent (S3 metadata), and repeats must not be lost."""
    with srv.connect() as sock:
        sock.sendall(
            b"GET /h HTTP/1.1\r\nHost: x\r\nX-Amz-Meta-MyKey: v1\r\n"
            b"X-Dup: a\r\nx-dup: b\r\nX-Spaced:   padded  \r\n\r\n"
        )
        got = json.loads(read_response(sock).read())
    headers = got["headers"]
    assert ["X-Amz-Meta-MyKey", "v1"] in headers
    assert [h for h in headers if h[0].lower() == "x-dup"] == [["X-Dup", "a"], ["x-dup", "b"]]
    assert ["X-Spaced", "padded"] in headers
    assert got["x_dup"] == "a,b"  # the WSGI view joins repeats (RFC 9110 5.3)


# -- malformed input --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (b"GARBAGE\r\n\r\n", b"400", b"bad request line"),
        (b"GET / HTTP/1.1 extra\r\n\r\n", b"400", b"bad request line"),
        (b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", b"400", b"bad header line"),
        (b"GET / HTTP/1.1\r\nX-Name : v\r\n\r\n", b"400", b"bad header line"),
        (b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", b"400", b"bad Content-Length"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400", b"bad Content-Length"),
        (b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", b"400", b"bad Content-Length"),
        (b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", b"400", b"bad header line"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400", b"chunk size"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\n", b"400", b"chunk size"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"505", b"HTTP/2"),
    ],
)
def test_malformed_requests_get_a_clear_error_and_close(
    srv: Running, request_bytes: bytes, status: bytes, reason: bytes
) -> None:
    """A request we cannot frame leaves the stream unusable: answer once, then close."""
    with srv.connect() as sock:
        sock.sendall(request_bytes)
        raw = read_until_eof(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status + b" ")
    assert b"Connection: close" in head.split(b"\r\n")
    assert reason in body


def test_oversized_head_gets_431(srv: Running) -> None:
    """A head past MAX_HEAD is refused rather than buffered without bound."""
    # Exactly one byte over, so the server has read all we sent when it answers.
    filler = b"GET / HTTP/1.1\r\nX-Big: "
    data = filler + b"a" * (http_connection.MAX_HEAD + 1 - len(filler))
    with srv.connect() as sock:
        sock.sendall(data)
        raw = read_until_eof(sock)
    assert raw.startswith(b"HTTP/1.1 431 ")
