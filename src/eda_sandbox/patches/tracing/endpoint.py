"""The journey store over HTTP, on the sandbox's own port (LocalStack's edge router).

``GET /_eda-sandbox/journeys?id=ID`` -- the journeys an id finds: a message id, request
id, EventBridge event id, trace id (``1-…`` or its 32-hex W3C form) or correlation id;
``/_eda-sandbox/journeys/ID`` is the same. ``?last=N`` -- the N most recently updated
journeys (default 20). ``?since=SEQ`` -- those updated after sequence number SEQ, with the
number to ask with next (for ``trace --follow``). Every answer is
``{"tracing": bool, "seq": int, "journeys": [...]}`` with each journey as
:meth:`Journey.to_json` writes it, so tests in any language can read it.

``PUT /_eda-sandbox/journeys/recording`` with ``{"enabled": false}`` pauses recording in
a running sandbox and ``{"enabled": true}`` resumes it (a load test that wants no hops, or
``bench/tracing_ab.py`` comparing both on one sandbox and heap). It answers
``{"tracing": bool}``; a sandbox started with ``EDA_SANDBOX_TRACING=0`` has no wrappers in
place and refuses to resume (409), since they can only be put in before services load.
"""

from __future__ import annotations

import json
from typing import Any

from localstack.http import Request, Response, route

from eda_sandbox.config import JOURNEYS_PATH
from eda_sandbox.journeys.model import Journey
from eda_sandbox.journeys.store import JourneyStore, get_store
from eda_sandbox.patches.tracing.base import enabled, instrumented, set_enabled

DEFAULT_LAST = 20


def aws_trace_id(w3c: str) -> str:
    """A 32-hex W3C trace id as the X-Ray root it came from (``1-8hex-24hex``)."""
    return f"1-{w3c[:8]}-{w3c[8:]}"


class JourneyEndpoints:
    def __init__(self, store: JourneyStore | None = None) -> None:
        self._store = store

    @property
    def store(self) -> JourneyStore:
        return self._store if self._store is not None else get_store()

    @route(JOURNEYS_PATH, methods=["GET"])
    def list_journeys(self, request: Request) -> dict[str, Any]:
        args = request.args
        if key := args.get("id"):
            return self._answer(self._find(key))
        if (since := args.get("since")) is not None:
            seq, journeys = self.store.updated_since(_int(since, 0))
            return self._answer(journeys, seq)
        return self._answer(self.store.last(max(1, _int(args.get("last"), DEFAULT_LAST))))

    @route(f"{JOURNEYS_PATH}/recording", methods=["PUT"])
    def set_recording(self, request: Request) -> Response | dict[str, Any]:
        try:
            wanted = json.loads(request.get_data() or b"null")
        except ValueError:
            wanted = None
        if not isinstance(wanted, dict) or not isinstance(wanted.get("enabled"), bool):
            return _error(400, 'the body must be {"enabled": true} or {"enabled": false}')
        if wanted["enabled"] and not instrumented():
            return _error(
                409,
                "this sandbox started with EDA_SANDBOX_TRACING=0, so no hop can be recorded "
                "until it is restarted with EDA_SANDBOX_TRACING=1",
            )
        set_enabled(wanted["enabled"])
        return {"tracing": enabled()}

    @route(f"{JOURNEYS_PATH}/<path:key>", methods=["GET"])
    def get_journey(self, request: Request, key: str) -> dict[str, Any]:
        return self._answer(self._find(key))

    def _find(self, key: str) -> list[Journey]:
        found = self.store.find(key)
        if not found and len(key) == 32 and all(c in "0123456789abcdef" for c in key):
            found = self.store.find(aws_trace_id(key))
        return found

    def _answer(self, journeys: list[Journey], seq: int | None = None) -> dict[str, Any]:
        return {
            "tracing": enabled(),
            "seq": self.store.seq if seq is None else seq,
            "journeys": [j.to_json() for j in journeys],
        }


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json")


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default
