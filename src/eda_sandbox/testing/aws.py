"""A boto3 client factory bound to one endpoint: ``aws.sqs``, ``aws.client("sns")``."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# Tests wait explicitly; botocore's own retries would hide where the time went.
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5)


class AwsClients:
    """Creates each client once (client creation costs ~50-100 ms) and shares it."""

    def __init__(
        self, endpoint_url: str | None, region: str, session: boto3.Session | None = None
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.session = session or boto3.Session(region_name=region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    config=_CONFIG,
                )
            return self._clients[service]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.client(name)

    @property
    def lambda_(self) -> Any:
        return self.client("lambda")
