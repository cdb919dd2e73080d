"""The DLQ tools: listing the reference topology's DLQs, and a redrive back to the source."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from eda_sandbox.cli.main import main as cli
from eda_sandbox.dlq import DeadLetterQueues
from eda_sandbox.testing import AwsClients


def test_dlq_list_shows_the_reference_topologys_dead_letter_queues(
    e2e: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["dlq", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("EventQueue-dlq", "OrderQueue-dlq.fifo", "OrderPlaced-target-dlq"):
        assert name in out, f"{name} missing from `dlq list`:\n{out}"


def test_a_dead_lettered_message_is_shown_and_redriven_to_its_source(
    aws: AwsClients, sqs_create_queue: Any, dlq: DeadLetterQueues, correlation_id: str
) -> None:
    dead = sqs_create_queue(f"{correlation_id[-20:]}-dlq")
    dead_arn = aws.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = {"deadLetterTargetArn": dead_arn, "maxReceiveCount": 1}
    source = sqs_create_queue(Attributes={"RedrivePolicy": json.dumps(policy)})
    aws.sqs.send_message(QueueUrl=source, MessageBody=correlation_id)
    assert aws.sqs.receive_message(QueueUrl=source, VisibilityTimeout=0).get("Messages")
    # The next receive moves it (maxReceiveCount 1 passed) and returns nothing.
    assert not aws.sqs.receive_message(QueueUrl=source).get("Messages")

    (shown,) = dlq.show(dead)
    assert shown.body == correlation_id and shown.source_arn is not None
    assert shown.source_arn.endswith(source.rsplit("/", 1)[-1]), shown

    progress = list(dlq.redrive(dead, timeout=20))
    assert progress[-1].status == "COMPLETED" and progress[-1].moved == 1, progress
    back = aws.sqs.receive_message(QueueUrl=source, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in back] == [correlation_id], back
    assert dlq.purge(source) and not dlq.show(dead)


def test_dlq_list_shows_the_oldest_age_without_receiving(
    aws: AwsClients,
    sqs_create_queue: Any,
    dlq: DeadLetterQueues,
    correlation_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = sqs_create_queue(f"{correlation_id[-20:]}-e-dlq").rsplit("/", 1)[-1]
    full = sqs_create_queue(f"{correlation_id[-20:]}-f-dlq")
    before = time.time()
    aws.sqs.send_message(QueueUrl=full, MessageBody="first")
    sent = time.time()
    aws.sqs.send_message(QueueUrl=full, MessageBody="second")

    by_name = {q.name: q for q in dlq.list_queues()}
    assert by_name[empty].messages == 0 and by_name[empty].oldest_at is None, by_name[empty]
    found = by_name[full.rsplit("/", 1)[-1]]
    # The first message's: sent between `before` and `sent` (one clock: same host).
    assert found.messages == 2 and found.oldest_at is not None, found
    assert before - 0.01 <= found.oldest_at <= sent + 0.01, (before, sent, found)
    assert found.oldest_age is not None and found.oldest_age >= time.time() - sent, found

    assert cli(["dlq", "list"]) == 0
    rows = [[c.strip() for c in line.split("│")] for line in capsys.readouterr().out.splitlines()]
    cells = {row[1]: row[2:] for row in rows if len(row) > 4}
    assert cells[empty][:2] == ["0", "-"], cells[empty]
    assert cells[found.name][0] == "2" and cells[found.name][1].endswith(" s"), cells[found.name]

    # Showing reads the store too: both messages, oldest first, never received.
    shown = dlq.show(full)
    assert [(m.body, m.receive_count) for m in shown] == [("first", 0), ("second", 0)], shown

    # Listing and showing received nothing: both messages are unreceived and visible.
    got = aws.sqs.receive_message(
        QueueUrl=full, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Attributes"]["ApproximateReceiveCount"] for m in got) == ["1", "1"], got
