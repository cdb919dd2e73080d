"""Fixtures shared by the unit tests of the sandbox's container path."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest


@pytest.fixture
def health_server() -> Iterator[tuple[int, dict[str, str]]]:
    """A stand-in health endpoint serving what the test puts in ``services``."""
    services: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"services": services}).encode()
            self.send_response(200 if self.path == "/_localstack/health" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], services
    finally:
        server.shutdown()
        server.server_close()
