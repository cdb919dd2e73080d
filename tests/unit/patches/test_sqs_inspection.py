"""Queue statistics from LocalStack's own SQS models: the oldest message's age, read
without receiving anything."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from localstack.http import Request, Router
from localstack.http.dispatcher import handler_dispatcher
from localstack.services.sqs.models import FifoQueue, SqsStore, StandardQueue, sqs_stores

from eda_sandbox.config import QUEUES_PATH
from eda_sandbox.patches.sqs.inspection import QueueEndpoints, peek, queue_stats

ACCOUNT, REGION = "111111111111", "eu-west-1"


def _send(queue: StandardQueue | FifoQueue, message_id: str, age: float, **kwargs: str) -> None:
    message = queue.put({"MessageId": message_id, "Body": "x", "Attributes": {}}, **kwargs)
    message.created = time.time() - age  # sent ``age`` seconds ago


@pytest.fixture
def store() -> Iterator[SqsStore]:
    found: SqsStore = sqs_stores[ACCOUNT][REGION]
    yield found
    found.queues.clear()


def test_an_empty_queue_has_no_oldest_message() -> None:
    stats = queue_stats(StandardQueue("empty", REGION, ACCOUNT), now=time.time())
    assert stats["visible"] == stats["in_flight"] == stats["delayed"] == 0
    assert stats["oldest_at"] is None and stats["oldest_age_seconds"] is None


def test_the_oldest_counts_visible_in_flight_and_delayed_and_changes_nothing() -> None:
    queue = StandardQueue("q", REGION, ACCOUNT)
    _send(queue, "old", age=300)
    _send(queue, "new", age=5)
    _send(queue, "later", age=0, delay_seconds=60)
    received = queue.receive(num_messages=1, visibility_timeout=30).successful
    assert [m.message["MessageId"] for m in received] == ["old"]  # now in flight

    now = time.time()
    stats = queue_stats(queue, now)
    assert (stats["visible"], stats["in_flight"], stats["delayed"]) == (1, 1, 1)
    assert stats["oldest_age_seconds"] == pytest.approx(300, abs=1)
    assert received[0].receive_count == 1  # reading the store received nothing
    assert queue.approximate_number_of_messages == 1


def test_a_fifo_queue_looks_into_its_message_groups() -> None:
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    queue = FifoQueue("q.fifo", REGION, ACCOUNT, attributes=attributes)
    _send(queue, "a", age=40, message_group_id="g1", message_deduplication_id="a")
    _send(queue, "b", age=90, message_group_id="g2", message_deduplication_id="b")
    stats = queue_stats(queue, time.time())
    assert stats["visible"] == 2
    assert stats["oldest_age_seconds"] == pytest.approx(90, abs=1)


def test_the_endpoint_answers_per_account_and_region(store: SqsStore) -> None:
    store.queues["DLQ-dlq"] = StandardQueue("DLQ-dlq", REGION, ACCOUNT)
    _send(store.queues["DLQ-dlq"], "m", age=42)
    store.queues["empty-dlq"] = StandardQueue("empty-dlq", REGION, ACCOUNT)
    router = Router(dispatcher=handler_dispatcher())
    router.add(QueueEndpoints())

    response = router.dispatch(
        Request("GET", QUEUES_PATH, query_string=f"account={ACCOUNT}&region={REGION}")
    )
    answer = json.loads(response.data)
    by_name = {q["name"]: q for q in answer["queues"]}
    assert by_name["DLQ-dlq"]["oldest_age_seconds"] == pytest.approx(42, abs=1)
    assert by_name["DLQ-dlq"]["arn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:DLQ-dlq"
    assert by_name["empty-dlq"]["oldest_age_seconds"] is None


def test_peek_lists_the_oldest_first_without_receiving() -> None:
    queue = StandardQueue("q", REGION, ACCOUNT)
    _send(queue, "newer", age=10)
    _send(queue, "older", age=99)
    (received,) = queue.receive(num_messages=1, visibility_timeout=30).successful

    first, second = peek(queue, limit=10)
    assert (first["message_id"], second["message_id"]) == ("older", "newer")
    assert received.message["MessageId"] == "newer"  # in flight, and still shown
    assert second["receive_count"] == 1 and first["receive_count"] == 0
    assert [m["message_id"] for m in peek(queue, limit=1)] == ["older"]
    assert received.receive_count == 1  # peeking received nothing


def test_the_messages_endpoint_says_which_queue_is_missing(store: SqsStore) -> None:
    router = Router(dispatcher=handler_dispatcher())
    router.add(QueueEndpoints())
    query = f"account={ACCOUNT}&region={REGION}"
    response = router.dispatch(Request("GET", f"{QUEUES_PATH}/nope/messages", query_string=query))
    assert response.status_code == 404 and "nope" in json.loads(response.data)["error"]
