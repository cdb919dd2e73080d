"""DynamoDB in its own process: moto's backend behind the sandbox's lean HTTP server.

Why: LocalStack is one process, held by one GIL on one core, and moto's DynamoDB inside
it was a third of that process's CPU per event (py-spy, bench/RESULTS.md): each order
the reference consumers store costs three DynamoDB requests. In its own process it runs
on the other core. LocalStack's own DynamoDB provider has the same shape (it starts
DynamoDB Local and forwards to it), but DynamoDB Local needs a download and a JDK; moto
is already installed, pure Python, and starts in a second.

Who talks to it (``EDA_SANDBOX_DYNAMODB=process``, the default):

- LocalStack's ``dynamodb`` provider forwards every request it receives, so port 4566
  keeps serving DynamoDB to tests, the CLI and the benchmark;
- Lambda functions call it directly: the executor sets ``AWS_ENDPOINT_URL_DYNAMODB``,
  as AWS functions call DynamoDB's endpoint and not a gateway in front of it.

What stays as in LocalStack: the account is the one LocalStack derives from the access
key (LocalStack's forwarded requests carry it in ``x-moto-account-id``; direct ones are
mapped with LocalStack's own function), the region comes from the credential scope, and
each operation holds one lock, so every single-item operation is atomic as in DynamoDB.

Run as ``python -m eda_sandbox.servers.dynamodb``: it serves the listening socket passed
in ``EDA_DYNAMODB_FD`` and exits when the process in ``EDA_DYNAMODB_PARENT_PID`` is gone
or on SIGTERM. With ``EDA_SANDBOX_PERSIST=1`` it loads its tables from
``<state>/persist/dynamodb.pickle`` first and saves them there (persistence/tables.py);
it then writes ``ready`` or the reason it cannot start to ``EDA_DYNAMODB_READY_FD``.
"""

from __future__ import annotations

import functools
import http
import importlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header
from moto.core.exceptions import RESTError
from werkzeug.wrappers import Request

from eda_sandbox.config import load_settings
from eda_sandbox.errors import SnapshotError
from eda_sandbox.persistence.tables import TablePersistence
from eda_sandbox.servers.connection import Connection

LOG = logging.getLogger(__name__)
# One lock around each operation: moto applies an UpdateItem attribute by attribute and
# serves requests on many threads; DynamoDB makes each single-item operation atomic.
LOCK = threading.RLock()
PARENT_CHECK_SECONDS = 1.0


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class DynamoDBApp:
    """A WSGI app that hands each request to moto's DynamoDB handler."""

    def __init__(self, persistence: TablePersistence | None = None) -> None:
        from moto.dynamodb.responses import DynamoHandler

        self._dispatch = DynamoHandler.dispatch
        self._persistence = persistence

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if "HTTP_X_MOTO_ACCOUNT_ID" not in environ:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = account_of(environ.get("HTTP_AUTHORIZATION", ""))
        request = Request(environ)
        # Built here: werkzeug's ``Request.url`` decodes the host as IDNA and the path
        # as an IRI, a seventh of a request's cost, for a URL that is always plain ASCII.
        url = f"{environ['wsgi.url_scheme']}://{environ.get('HTTP_HOST', 'localhost')}"
        url += environ.get("RAW_URI") or quote(environ.get("PATH_INFO") or "/")
        try:
            with LOCK:
                status, headers, body = self._dispatch(request, url, request.headers)
        except RESTError as e:
            status, headers, body = e.code, dict(e.get_headers()), e.get_body()
        if self._persistence is not None:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            self._persistence.saw(target.rpartition(".")[2])
        payload = body.encode() if isinstance(body, str) else (body or b"")
        response_headers = [
            (name, str(value))
            for name, value in dict(headers).items()
            if name.lower() not in ("content-length", "status")
        ]
        if not any(name.lower() == "content-type" for name, _ in response_headers):
            # DynamoDB labels its answers; moto leaves that to its HTTP server.
            response_headers.append(("Content-Type", "application/x-amz-json-1.0"))
        response_headers.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {_reason(int(status))}", response_headers)
        return [payload]


def account_of(authorization: str) -> str:
    """The account LocalStack would give a request with this ``Authorization`` header."""
    return _account_of_key(extract_access_key_id_from_auth_header({"Authorization": authorization}))


@functools.lru_cache(maxsize=4096)
def _account_of_key(key: str | None) -> str:
    from localstack.aws.accounts import get_account_id_from_access_key_id
    from localstack.constants import DEFAULT_AWS_ACCOUNT_ID

    return get_account_id_from_access_key_id(key or DEFAULT_AWS_ACCOUNT_ID)


def serve(listener: socket.socket, app: DynamoDBApp, stop: threading.Event) -> None:
    """Accept until ``stop``; one daemon thread per keep-alive connection."""
    listener.settimeout(0.5)
    local = listener.getsockname()[:2]
    while not stop.is_set():
        try:
            client, peer = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            if stop.is_set():
                return
            raise
        client.settimeout(None)
        connection = Connection(client, peer, app, local, None)
        threading.Thread(target=connection.serve, name=f"ddb-{peer[1]}", daemon=True).start()


def _exit_with(parent: int, stop: threading.Event) -> None:
    # Orphaned (LocalStack killed with SIGKILL): stop too, instead of holding the port.
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        time.sleep(PARENT_CHECK_SECONDS)


def _report(message: str) -> None:
    """Tell the parent, if it asked (EDA_DYNAMODB_READY_FD), that we serve or why not."""
    fd = os.environ.get("EDA_DYNAMODB_READY_FD")
    if fd:
        with os.fdopen(int(fd), "w") as ready:
            ready.write(message)


def main() -> None:
    from eda_sandbox.patches import gc_freeze, moto, moto_instances, switch

    logging.basicConfig(level=logging.WARNING)
    moto_instances.stop_tracking_instances()  # a fix: without it every request leaks
    listener = socket.socket(fileno=int(os.environ["EDA_DYNAMODB_FD"]))
    if switch.enabled():
        moto.apply()
    stop = threading.Event()
    # SIGTERM (``down``, or LocalStack stopping its DynamoDB provider) ends the serve
    # loop, so the final snapshot below is taken.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = int(os.environ.get("EDA_DYNAMODB_PARENT_PID", "0"))
    if parent:
        threading.Thread(target=_exit_with, args=(parent, stop), daemon=True).start()
    persistence = None
    settings = load_settings()
    if settings.persist:
        persistence = TablePersistence(settings.persist_dir / "dynamodb.pickle", LOCK)
        try:
            persistence.load()
        except SnapshotError as e:
            LOG.error("%s", e)
            _report(str(e))
            raise SystemExit(1) from e
    app = DynamoDBApp(persistence)
    if switch.enabled():
        importlib.import_module("moto.dynamodb.models")  # loaded now, so frozen below
        gc_freeze.keep_full_collections_short()
    _report("ready")
    if persistence is not None:
        persistence.start()
    try:
        serve(listener, app, stop)
    finally:
        if persistence is not None:
            persistence.stop()


if __name__ == "__main__":
    main()
