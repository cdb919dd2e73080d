"""LocalStack service providers that eda-sandbox adds (loaded inside LocalStack's process).

``dynamodb:moto`` serves DynamoDB from moto's pure-Python backend. LocalStack's own
DynamoDB provider downloads DynamoDB Local and a JDK on first use, which an offline
machine cannot do; moto ships inside ``moto-ext`` (already a LocalStack dependency),
supports conditional writes, ``UpdateItem`` expressions and TTL settings, and starts in
milliseconds. Chosen with ``PROVIDER_OVERRIDE_DYNAMODB=moto`` (the launcher sets it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from localstack.services.plugins import Service, aws_provider

# moto applies an UpdateItem attribute by attribute, and LocalStack serves requests on
# many threads, so a concurrent GetItem could see an item half-updated and two
# conditional writes could both pass. DynamoDB makes every single-item operation
# atomic; one lock around each operation gives the same guarantee here.
_DYNAMODB_LOCK = threading.RLock()


def _atomic(handler: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return handler(*args, **kwargs)

    return call


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Any:
    # Imported lazily: plux builds the plugin index without loading LocalStack's API models.
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher

    from eda_sandbox import moto_speedups, speedups

    if speedups.enabled():
        moto_speedups.apply()

    class MotoDynamoDBProvider(DynamodbApi):
        """Every operation falls through to moto (no override raises NotImplementedError)."""

    def dispatch_table(provider: object) -> dict[str, Any]:
        return {op: _atomic(h) for op, h in MotoFallbackDispatcher(provider).items()}

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=dispatch_table)
