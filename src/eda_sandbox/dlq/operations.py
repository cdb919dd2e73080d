"""Dead-letter queues: list, show, redrive and purge, for the CLI and for tests.

A queue counts as a DLQ when another queue's redrive policy targets it (SQS's own
``ListDeadLetterSourceQueues``) or when its name says it holds failures (``-dlq``,
``-failures``: the topology's SNS, EventBridge and Lambda on-failure queues, which no
redrive policy names). Redrive is SQS's ``StartMessageMoveTask`` (LocalStack 2026.3.0
implements it, with the original sources when no destination is given), watched through
``ListMessageMoveTasks`` until it ends.

The oldest message's age comes from the sandbox's queue statistics
(``/_eda-sandbox/queues``, ``patches/sqs/inspection.py``), read without receiving: a
``ReceiveMessage`` would count as a receive of every message it returned. Against an
endpoint without them (real AWS) the age is unknown (``None``).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from eda_sandbox.config import QUEUES_PATH
from eda_sandbox.errors import DlqError

LOG = logging.getLogger(__name__)
FAILURE_NAME_MARKS = ("-dlq", "-failures")
MOVE_TASK_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    arn: str
    messages: int
    sources: tuple[str, ...]
    # When the oldest message not deleted entered this queue (epoch seconds); None when
    # the queue is empty or the endpoint has no queue statistics.
    oldest_at: float | None = None

    @property
    def oldest_age(self) -> float | None:
        """Seconds since the oldest message entered this queue (CloudWatch's
        ``ApproximateAgeOfOldestMessage``), or None."""
        return None if self.oldest_at is None else max(0.0, time.time() - self.oldest_at)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    receive_count: int
    source_arn: str | None
    sent_at: float
    # EventBridge's and SNS's DLQ messages carry the error as message attributes.
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MoveProgress:
    status: str
    moved: int
    to_move: int | None
    failure: str | None = None


class DeadLetterQueues:
    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def url(self, name_or_url: str) -> str:
        if name_or_url.startswith("http"):
            return name_or_url
        try:
            return str(self.sqs.get_queue_url(QueueName=name_or_url)["QueueUrl"])
        except ClientError as e:
            raise DlqError(f"no queue named {name_or_url!r}: {e}") from e

    def list_queues(self) -> list[DeadLetterQueue]:
        """Every DLQ of the account and region, with its message count, the age of its
        oldest message and its sources."""
        found = []
        statistics: dict[str, dict[str, dict[str, Any]] | None] = {}
        for url in self.sqs.list_queues().get("QueueUrls", []):
            name = url.rsplit("/", 1)[-1]
            try:
                sources = self.sqs.list_dead_letter_source_queues(QueueUrl=url)
                sources = sources.get("queueUrls", [])
                if not sources and not any(mark in name for mark in FAILURE_NAME_MARKS):
                    continue
                attributes = self.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"]
                )["Attributes"]
            except self.sqs.exceptions.QueueDoesNotExist:
                continue  # deleted since it was listed (tests create and delete queues)
            account = attributes["QueueArn"].split(":")[4]
            if account not in statistics:
                statistics[account] = self.statistics(account)
            stats = (statistics[account] or {}).get(name) or {}
            found.append(
                DeadLetterQueue(
                    name=name,
                    url=url,
                    arn=attributes["QueueArn"],
                    messages=int(attributes["ApproximateNumberOfMessages"]),
                    sources=tuple(s.rsplit("/", 1)[-1] for s in sources),
                    oldest_at=stats.get("oldest_at"),
                )
            )
        return sorted(found, key=lambda q: q.name)

    def statistics(self, account: str) -> dict[str, dict[str, Any]] | None:
        """The sandbox's statistics of ``account``'s queues in this region, by name; None
        when the endpoint has none (real AWS, or an older sandbox)."""
        query = urllib.parse.urlencode({"account": account, "region": self.sqs.meta.region_name})
        url = f"{str(self.sqs.meta.endpoint_url).rstrip('/')}{QUEUES_PATH}?{query}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our endpoint
                answer = json.load(response)
            return {q["name"]: q for q in answer["queues"]}
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
            LOG.debug("no queue statistics at %s: %s", url, e)
            return None

    def show(self, queue: str, limit: int = 10) -> list[DeadLetter]:
        """Up to ``limit`` messages, oldest first, left in the queue as they were: read
        from the sandbox's store, or (real AWS) received with visibility 0, which counts
        as a receive of each."""
        url = self.url(queue)
        peeked = self._peek(url, limit)
        if peeked is not None:
            return peeked
        seen: dict[str, DeadLetter] = {}
        for _ in range(max(1, (limit + 9) // 10) * 2):
            answer = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit),
                VisibilityTimeout=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            for m in answer.get("Messages", []):
                attributes = m.get("Attributes", {})
                seen.setdefault(
                    m["MessageId"],
                    DeadLetter(
                        message_id=m["MessageId"],
                        body=m["Body"],
                        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                        source_arn=attributes.get("DeadLetterQueueSourceArn"),
                        sent_at=int(attributes.get("SentTimestamp", 0)) / 1000,
                        attributes={
                            k: str(v.get("StringValue"))
                            for k, v in (m.get("MessageAttributes") or {}).items()
                        },
                    ),
                )
            if len(seen) >= limit:
                break
        return list(seen.values())[:limit]

    def _peek(self, url: str, limit: int) -> list[DeadLetter] | None:
        account, name = url.rstrip("/").rsplit("/", 2)[-2:]
        query = urllib.parse.urlencode(
            {"account": account, "region": self.sqs.meta.region_name, "limit": limit}
        )
        endpoint = str(self.sqs.meta.endpoint_url).rstrip("/")
        address = f"{endpoint}{QUEUES_PATH}/{urllib.parse.quote(name)}/messages?{query}"
        try:
            with urllib.request.urlopen(address, timeout=5) as response:  # noqa: S310 - ours
                messages = json.load(response)["messages"]
            return [
                DeadLetter(
                    message_id=m["message_id"],
                    body=m["body"],
                    receive_count=int(m["receive_count"]),
                    source_arn=m.get("dead_letter_source_arn"),
                    sent_at=int(m.get("sent_timestamp") or 0) / 1000,
                    attributes=dict(m.get("message_attributes") or {}),
                )
                for m in messages
            ]
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
            LOG.debug("no queue messages at %s: %s", address, e)
            return None

    def redrive(
        self, queue: str, to: str | None = None, timeout: float = 60.0
    ) -> Iterator[MoveProgress]:
        """Move every message back (to its original source, or to ``to``), yielding
        progress until the move task ends."""
        arn = self._arn(self.url(queue))
        params: dict[str, Any] = {"SourceArn": arn}
        if to:
            params["DestinationArn"] = self._arn(self.url(to))
        try:
            self.sqs.start_message_move_task(**params)
        except ClientError as e:
            raise DlqError(f"cannot redrive {queue}: {e}") from e
        deadline = time.monotonic() + timeout
        while True:
            tasks = self.sqs.list_message_move_tasks(SourceArn=arn, MaxResults=1).get("Results", [])
            task = tasks[0] if tasks else {"Status": "RUNNING"}
            progress = MoveProgress(
                status=task.get("Status", "RUNNING"),
                moved=int(task.get("ApproximateNumberOfMessagesMoved", 0)),
                to_move=_int_or_none(task.get("ApproximateNumberOfMessagesToMove")),
                failure=task.get("FailureReason"),
            )
            yield progress
            if progress.status in ("COMPLETED", "FAILED", "CANCELLED"):
                if progress.status != "COMPLETED":
                    raise DlqError(f"redrive of {queue} {progress.status}: {progress.failure}")
                return
            if time.monotonic() > deadline:
                raise DlqError(f"redrive of {queue} still {progress.status} after {timeout} s")
            time.sleep(MOVE_TASK_POLL_SECONDS)  # polling SQS's task status, as its API asks

    def purge(self, queue: str, confirm: Callable[[str], bool] = lambda _q: True) -> bool:
        """Delete every message of ``queue`` if ``confirm(queue)`` says so."""
        url = self.url(queue)
        if not confirm(url.rsplit("/", 1)[-1]):
            return False
        self.sqs.purge_queue(QueueUrl=url)
        return True

    def _arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None
