"""Reads the journey store of a running sandbox over HTTP (``/_eda-sandbox/journeys``).

The CLI and the pytest fixture run outside LocalStack's process, so they ask the
endpoint; urllib is enough for three GETs and a PUT, and keeps the client
dependency-free.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from eda_sandbox.config import JOURNEYS_PATH
from eda_sandbox.errors import JourneyQueryError
from eda_sandbox.journeys.model import Journey


class JourneyClient:
    def __init__(self, endpoint_url: str, timeout: float = 5.0) -> None:
        self.url = endpoint_url.rstrip("/") + JOURNEYS_PATH
        self.timeout = timeout

    def find(self, key: str) -> list[Journey]:
        """The journeys a message, request, event, trace or correlation id finds."""
        return [Journey.from_json(j) for j in self._get({"id": key})["journeys"]]

    def last(self, count: int) -> list[Journey]:
        """The ``count`` most recently updated journeys, newest first."""
        return [Journey.from_json(j) for j in self._get({"last": str(count)})["journeys"]]

    def since(self, seq: int) -> tuple[int, list[Journey]]:
        """Journeys updated after ``seq`` and the sequence number to ask with next."""
        answer = self._get({"since": str(seq)})
        return int(answer["seq"]), [Journey.from_json(j) for j in answer["journeys"]]

    def seq(self) -> int:
        return int(self._get({"last": "1"})["seq"])

    def set_recording(self, enabled: bool) -> bool:
        """Pause (False) or resume (True) recording; returns whether it is on now."""
        url = f"{self.url}/recording"
        body = json.dumps({"enabled": enabled}).encode()
        request = urllib.request.Request(url, data=body, method="PUT")  # noqa: S310 - our endpoint
        request.add_header("Content-Type", "application/json")
        answer = self._open(request, f"cannot switch recording at {url} to {body.decode()}")
        return bool(answer.get("tracing"))

    def _get(self, query: dict[str, str]) -> dict[str, Any]:
        url = f"{self.url}?{urllib.parse.urlencode(query)}"
        answer = self._open(url, f"cannot read journeys from {url}")
        if "journeys" not in answer:
            raise JourneyQueryError(f"{url} answered without journeys: {answer!r:.200}")
        return answer

    def _open(self, request: str | urllib.request.Request, failure: str) -> dict[str, Any]:
        """The endpoint's JSON answer; any failure as a JourneyQueryError starting with
        ``failure`` (with the endpoint's own error text when it answered one)."""
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - our endpoint
                answer: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:300]
            raise JourneyQueryError(f"{failure}: {e.code} {detail}") from e
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise JourneyQueryError(f"{failure}: {e}") from e
        return answer
