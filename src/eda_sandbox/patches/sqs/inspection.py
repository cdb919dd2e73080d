"""Queue statistics read from LocalStack's SQS store, over HTTP (an ``on_infra_start`` hook).

Why: ``eda-sandbox dlq list`` shows each DLQ's oldest message age, what CloudWatch calls
``ApproximateAgeOfOldestMessage``. SQS's own API has no such attribute, and reading the
messages to find out is not an inspection: a ``ReceiveMessage`` raises every message's
``ApproximateReceiveCount`` and, until its visibility timeout ends, hides it from the
consumer. LocalStack emits no CloudWatch metrics for SQS. So the sandbox reads its own
store in LocalStack's process, under each queue's lock, changing nothing.

``GET /_eda-sandbox/queues?account=ACCOUNT&region=REGION`` answers
``{"now": epoch_s, "queues": [{"name", "arn", "visible", "in_flight", "delayed",
"oldest_at", "oldest_age_seconds"}, ...]}``. ``oldest_at`` is when the oldest message
not deleted (visible, in flight or delayed) entered that queue, so for a DLQ it is when
the message was moved there, which is what AWS's metric reports for a DLQ (SQS
Developer Guide, "Setting-up dead-letter queue retention"); ``null`` for an empty queue.

``GET /_eda-sandbox/queues/NAME/messages?account=…&region=…&limit=N`` answers
``{"messages": [...]}``: up to N messages not deleted, oldest first, each with its id,
body, ``receive_count`` (its ``ApproximateReceiveCount``), ``sent_timestamp`` (ms),
``entered_at``, ``dead_letter_source_arn`` and string ``message_attributes``, which
``eda-sandbox dlq show`` reads instead of receiving them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from localstack.http import Request, Response, route
from localstack.runtime import hooks

from eda_sandbox.config import QUEUES_PATH

DEFAULT_ACCOUNT = "000000000000"


def _messages(queue: Any) -> Iterable[Any]:
    """Every message of ``queue`` not deleted: visible, in flight and delayed."""
    if hasattr(queue, "message_groups"):  # FIFO: visible messages live in their groups
        for group in list(queue.message_groups.values()):
            yield from list(group.messages)
    else:
        yield from list(queue.visible.queue)
    yield from list(queue.inflight)
    yield from list(queue.delayed)


def queue_stats(queue: Any, now: float) -> dict[str, Any]:
    """The counts and the oldest message of one LocalStack ``SqsQueue``."""
    with queue.mutex:
        oldest = min(
            (m.created for m in _messages(queue) if not m.deleted),
            default=None,
        )
        in_flight = len(queue.inflight)
        delayed = len(queue.delayed)
        visible = int(queue.approximate_number_of_messages)
    return {
        "name": queue.name,
        "arn": queue.arn,
        "visible": visible,
        "in_flight": in_flight,
        "delayed": delayed,
        "oldest_at": oldest,
        "oldest_age_seconds": None if oldest is None else max(0.0, round(now - oldest, 3)),
    }


def peek(queue: Any, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of ``queue`` not deleted, oldest first, left as they are."""
    with queue.mutex:
        found = sorted((m for m in _messages(queue) if not m.deleted), key=lambda m: m.created)
        return [_message_json(m) for m in found[:limit]]


def _message_json(message: Any) -> dict[str, Any]:
    data = message.message
    attributes = data.get("Attributes") or {}
    return {
        "message_id": data["MessageId"],
        "body": data.get("Body"),
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        "sent_timestamp": int(attributes.get("SentTimestamp", 0)),
        "entered_at": message.created,
        "dead_letter_source_arn": attributes.get("DeadLetterQueueSourceArn"),
        "message_attributes": {
            name: str(value.get("StringValue"))
            for name, value in (data.get("MessageAttributes") or {}).items()
            if isinstance(value, dict) and value.get("StringValue") is not None
        },
    }


class QueueEndpoints:
    @route(QUEUES_PATH, methods=["GET"])
    def list_queues(self, request: Request) -> dict[str, Any]:
        from localstack.services.sqs.models import sqs_stores

        account = request.args.get("account") or DEFAULT_ACCOUNT
        region = request.args.get("region") or "us-east-1"
        now = time.time()
        queues = list(sqs_stores[account][region].queues.values())
        return {"now": now, "queues": [queue_stats(q, now) for q in queues]}

    @route(f"{QUEUES_PATH}/<name>/messages", methods=["GET"])
    def queue_messages(self, request: Request, name: str) -> Response | dict[str, Any]:
        from localstack.services.sqs.models import sqs_stores

        account = request.args.get("account") or DEFAULT_ACCOUNT
        region = request.args.get("region") or "us-east-1"
        queue = sqs_stores[account][region].queues.get(name)
        if queue is None:
            return _error(f"no queue {name!r}", 404)
        try:
            limit = max(1, int(request.args.get("limit") or 10))
        except ValueError:
            return _error("limit must be a number", 400)
        return {"messages": peek(queue, limit)}


def _error(message: str, status: int) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json")


@hooks.on_infra_start()
def serve_queue_statistics(*_args: Any) -> None:
    from localstack.services.edge import ROUTER

    ROUTER.add(QueueEndpoints())
