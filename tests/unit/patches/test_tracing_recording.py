"""Pausing and resuming journey recording at run time (``PUT .../journeys/recording``),
through the real route on a loopback server and the client the benchmark uses."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from localstack.http import Router
from localstack.http.dispatcher import handler_dispatcher
from werkzeug.serving import make_server

from eda_sandbox.errors import JourneyQueryError
from eda_sandbox.journeys.client import JourneyClient
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.tracing import base
from eda_sandbox.patches.tracing.endpoint import JourneyEndpoints


@pytest.fixture
def client() -> Iterator[JourneyClient]:
    router: Router = Router(dispatcher=handler_dispatcher())
    router.add(JourneyEndpoints(JourneyStore(10)))
    server = make_server("127.0.0.1", 0, router.wsgi(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    before = base.enabled(), base.instrumented()
    try:
        yield JourneyClient(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        base.set_enabled(before[0])
        base.set_instrumented(before[1])


def test_recording_pauses_and_resumes(client: JourneyClient) -> None:
    base.set_instrumented(True)
    base.set_enabled(True)
    assert client.set_recording(False) is False
    assert base.enabled() is False
    assert client.last(1) == []  # the read side still answers, with "tracing": false
    assert client.set_recording(True) is True
    assert base.enabled() is True


def test_a_sandbox_started_without_tracing_refuses_to_resume(client: JourneyClient) -> None:
    base.set_instrumented(False)
    base.set_enabled(False)
    with pytest.raises(JourneyQueryError, match=r"409 .*EDA_SANDBOX_TRACING=0"):
        client.set_recording(True)
    assert base.enabled() is False
    assert client.set_recording(False) is False  # pausing what is off is harmless


def test_a_bad_body_is_refused_with_what_it_must_be(client: JourneyClient) -> None:
    request = urllib.request.Request(
        f"{client.url}/recording", data=json.dumps({"enabled": "no"}).encode(), method="PUT"
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
    assert json.loads(raised.value.read())["error"] == (
        'the body must be {"enabled": true} or {"enabled": false}'
    )
