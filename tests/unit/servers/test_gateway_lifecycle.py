"""The ``GATEWAY_SERVER=eda`` server's lifecycle and TLS: shutdown never hangs on idle
keep-alive connections, and TLS and plain HTTP share one port."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gateway_harness import TIMEOUT, get_json, read_response, serving


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
