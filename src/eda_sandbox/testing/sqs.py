"""Reading queues in tests without stealing other tests' messages.

Shared queues are never purged: each test tags its events with a correlation id and reads
only what carries it. Messages that do not match are handed straight back (visibility 0),
so tests running side by side (pytest-xdist) do not hide each other's messages.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eda_sandbox.testing.waits import wait_until


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    body: str
    parsed: Any
    attributes: dict[str, str]
    message_attributes: dict[str, str]
    receipt_handle: str = field(repr=False)

    @property
    def receive_count(self) -> int:
        return int(self.attributes.get("ApproximateReceiveCount", "0"))

    def mentions(self, text: str) -> bool:
        return text in self.body or any(text in v for v in self.message_attributes.values())


def _parse(body: str) -> Any:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    # An SNS envelope (non-raw delivery) carries the producer's message as a string.
    if isinstance(value, dict) and value.get("Type") == "Notification" and "Message" in value:
        with contextlib.suppress(TypeError, ValueError):
            value = {**value, "Message": json.loads(value["Message"])}
    return value


def _to_received(raw: dict[str, Any]) -> ReceivedMessage:
    attrs = {
        name: str(value.get("StringValue", value.get("BinaryValue", "")))
        for name, value in (raw.get("MessageAttributes") or {}).items()
    }
    return ReceivedMessage(
        message_id=raw["MessageId"],
        body=raw["Body"],
        parsed=_parse(raw["Body"]),
        attributes=dict(raw.get("Attributes") or {}),
        message_attributes=attrs,
        receipt_handle=raw["ReceiptHandle"],
    )


Match = Callable[[ReceivedMessage], bool] | str


def _matcher(match: Match | None) -> Callable[[ReceivedMessage], bool]:
    if match is None:
        return lambda _m: True
    if isinstance(match, str):
        return lambda m: m.mentions(match)
    return match


def receive_until(
    sqs: Any,
    queue_url: str,
    *,
    count: int = 1,
    match: Match | None = None,
    timeout: float = 10.0,
    delete: bool = True,
) -> list[ReceivedMessage]:
    """Receive until ``count`` messages satisfy ``match`` (a callable or a substring).

    Matching messages are deleted (``delete=True``) so a re-run cannot see them twice;
    the rest are released at once. On timeout the error lists every message seen.
    """
    accept = _matcher(match)
    found: dict[str, ReceivedMessage] = {}
    others: dict[str, str] = {}

    def poll() -> list[ReceivedMessage] | None:
        resp = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        for raw in resp.get("Messages", []):
            msg = _to_received(raw)
            if accept(msg):
                found.setdefault(msg.message_id, msg)
                if delete:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg.receipt_handle)
                    continue
            else:
                others[msg.message_id] = msg.body[:300]
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=msg.receipt_handle, VisibilityTimeout=0
            )
        return list(found.values()) if len(found) >= count else None

    def describe(_last: object) -> str:
        return (
            f"{len(found)} of {count} matching messages in {queue_url}: "
            f"{[m.body[:300] for m in found.values()]}; non-matching seen: {list(others.values())}"
        )

    return wait_until(
        poll,
        timeout=timeout,
        interval=0.05,
        description=f"{count} message(s) matching {match!r} in {queue_url}",
        describe_last=describe,
    )


def assert_in_dlq(
    sqs: Any, queue_url: str, correlation_id: str, timeout: float = 30.0, delete: bool = True
) -> ReceivedMessage:
    """The dead-lettered message carrying ``correlation_id``: body, receive count, attributes."""
    return receive_until(
        sqs, queue_url, count=1, match=correlation_id, timeout=timeout, delete=delete
    )[0]


def assert_not_received(
    sqs: Any, queue_url: str, correlation_id: str, *, control: Callable[[], object]
) -> None:
    """Prove a negative without sleeping: wait for ``control`` (a positive event sent after
    the one that must not arrive), then check nothing carrying ``correlation_id`` came."""
    control()
    resp = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    leaked = [m["Body"] for m in resp.get("Messages", []) if correlation_id in m["Body"]]
    for m in resp.get("Messages", []):
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )
    assert not leaked, f"messages with {correlation_id} reached {queue_url}: {leaked}"


def allow_topic(sqs: Any, queue_url: str, topic_arn: str) -> str:
    """Give ``queue_url`` the policy AWS needs before SNS may deliver to it: ``sqs:SendMessage``
    for ``sns.amazonaws.com``, pinned to ``topic_arn`` by ``aws:SourceArn`` (the sandbox
    checks it when it enforces IAM). Replaces the queue's policy; returns its ARN."""
    arn = str(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    return arn
