"""The ``GATEWAY_SERVER=eda`` HTTP/1.1 server, exercised over real loopback sockets.

Every SDK call to the sandbox goes through this hand-written parser and writer, so these
tests pin the parts of HTTP/1.1 where a small slip corrupts a keep-alive connection:
framing of request and response bodies, interim responses, errors, shutdown and TLS.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from localstack.config import HostAndPort
from rolo import Response
from rolo.gateway import Gateway, HandlerChain, RequestContext

from eda_sandbox.servers import connection as http_connection
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


@pytest.fixture
def srv() -> Iterator[Running]:
    with serving() as running:
        yield running


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


# -- lifecycle and TLS ------------------------------------------------------------------
def test_shutdown_returns_run_and_closes_idle_connections() -> None:
    """LocalStack's shutdown must not hang on SDK pools holding idle connections."""
    with serving() as running:
        sock = running.connect()
        sock.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(sock).read()
        reading = threading.Event()
        seen: list[bytes] = []

        def reader() -> None:
            reading.set()
            seen.append(sock.recv(1))

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        assert reading.wait(TIMEOUT)
        running.server.shutdown()
        running.thread.join(TIMEOUT)
        assert not running.thread.is_alive()
        thread.join(TIMEOUT)
        sock.close()
    assert seen == [b""]


def make_cert(tmp_path: Path) -> tuple[str, str]:
    """A throwaway self-signed certificate for 127.0.0.1, as (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_tls_and_plain_http_share_the_port(tmp_path: Path) -> None:
    """LocalStack serves https://localhost.localstack.cloud:4566 and http:// on one port."""
    with serving(make_cert(tmp_path)) as running:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls = http.client.HTTPSConnection(
            "127.0.0.1", running.port, timeout=TIMEOUT, context=context
        )
        got = get_json(tls, "POST", "/secure?a=1", body=b"sealed")
        assert isinstance(tls.sock, ssl.SSLSocket)
        assert get_json(tls, "GET", "/again")["scheme"] == "https"
        tls.close()
        plain = running.http()
        got_plain = get_json(plain, "GET", "/plain")
        plain.close()
    expected = ("https", "/secure", "a=1", "sealed")
    assert (got["scheme"], got["path"], got["query"], got["body"]) == expected
    assert (got_plain["scheme"], got_plain["path"]) == ("http", "/plain")
