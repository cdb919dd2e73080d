"""Batch requests in the journey trace: each entry of an SNS PublishBatch or an SQS
SendMessageBatch is a journey of its own that shares the request's trace id, and an SNS
batch delivered to a queue links each enqueue to its message (in this process: LocalStack's
SNS provider delivers to its SQS provider through wire clients)."""

from __future__ import annotations

import json
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from localstack.aws.connect import MetadataRequestInjector
from localstack.services.sns.provider import SnsProvider

from eda_sandbox.journeys.model import HopKind, Journey
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.tracing.sns import SnsInstrumentor
from eda_sandbox.testing import wait_until

# The modules whose internal clients SNS's delivery to SQS (and its DLQ) goes through.
_CONNECTING = (
    "localstack.services.sns.publisher",
    "localstack.utils.aws.arns",
    "localstack.utils.aws.dead_letter_queue",
)


class _Clients:
    """``connect_to`` for SNS's deliveries: the in-process SQS client, never port 4566."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs

    def __call__(self, **_kwargs: Any) -> Any:
        return SimpleNamespace(sqs=MetadataRequestInjector(self._sqs))

    def with_assumed_role(self, **_kwargs: Any) -> Any:
        return self()


@pytest.fixture
def sns_to_sqs(
    traced_client: Any, traced_sqs: tuple[Any, JourneyStore], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any, JourneyStore]:
    """SNS and SQS clients whose hops go into one store, SNS delivering to that SQS."""
    sqs, store = traced_sqs
    sns, _ = traced_client("sns", SnsInstrumentor, SnsProvider, store=store)
    for module in _CONNECTING:
        monkeypatch.setattr(f"{module}.connect_to", _Clients(sqs))
    return sns, sqs, store


def _attr(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def _queue_arn(sqs: Any, queue_url: str) -> str:
    answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(answer["Attributes"]["QueueArn"])


def _subscribed_queue(sns: Any, sqs: Any, policy: dict[str, Any] | None = None) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    queue_url = sqs.create_queue(QueueName=f"batch-{suffix}")["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)
    topic_arn = sns.create_topic(Name=f"batch-{suffix}")["TopicArn"]
    attributes = {"RawMessageDelivery": "true"}
    if policy is not None:
        attributes["FilterPolicy"] = json.dumps(policy)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return topic_arn, queue_url


def _publish_batch(sns: Any, topic_arn: str, event_types: list[str]) -> list[str]:
    entries = [
        {"Id": f"e{n}", "Message": f"m{n}", "MessageAttributes": {"event_type": _attr(kind)}}
        for n, kind in enumerate(event_types)
    ]
    answer = sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
    return [entry["MessageId"] for entry in answer["Successful"]]


def _delivered(store: JourneyStore, message_id: str) -> Journey | None:
    """The message's journey once it is enqueued and nothing but the queued message is in
    flight (the subscription's delivery closed its token)."""
    found = store.find(message_id)
    if len(found) != 1:
        return None
    (journey,) = found
    enqueued = [h for h in journey.hops if h.kind == HopKind.ENQUEUED]
    if len(enqueued) != 1 or journey.in_flight != {f"sqs:{enqueued[0].detail['message_id']}"}:
        return None
    return journey


def _wait_delivered(store: JourneyStore, message_id: str) -> Journey:
    return wait_until(
        lambda: _delivered(store, message_id), timeout=10, description=f"{message_id} enqueued"
    )


def _kinds(journey: Journey) -> list[str]:
    return sorted(str(h.kind) for h in journey.hops)


# What an entry delivered to the queue shows (sorted, as _kinds gives them).
THROUGH_THE_QUEUE = sorted([HopKind.PUBLISHED, HopKind.FILTER_MATCHED, HopKind.ENQUEUED])


def test_each_entry_of_a_publish_batch_is_a_journey_through_the_queue(
    sns_to_sqs: tuple[Any, Any, JourneyStore],
) -> None:
    sns, sqs, store = sns_to_sqs
    topic_arn, queue_url = _subscribed_queue(sns, sqs)
    ids = _publish_batch(sns, topic_arn, ["order_placed"] * 3)

    found = [_wait_delivered(store, message_id) for message_id in ids]

    assert len({j.id for j in found}) == 3, [j.id for j in found]  # one journey per entry
    for message_id, journey in zip(ids, found, strict=True):
        assert _kinds(journey) == THROUGH_THE_QUEUE, (message_id, _kinds(journey))
        assert journey.ordered()[0].detail["message_id"] == message_id
    (trace,) = {j.trace_id for j in found}  # one request, one trace, as on AWS
    assert trace and len(store.find(trace)) == 3
    # SNS handed the journey's trace to SQS, as AWS does with active tracing.
    received = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["AWSTraceHeader"]
    )["Messages"]
    assert {m["Attributes"]["AWSTraceHeader"] for m in received} == {f"Root={trace};Sampled=1"}


def test_a_filter_drops_only_its_entry_of_a_publish_batch(
    sns_to_sqs: tuple[Any, Any, JourneyStore],
) -> None:
    sns, sqs, store = sns_to_sqs
    topic_arn, _ = _subscribed_queue(sns, sqs, policy={"event_type": ["order_placed"]})
    # The first is dropped: the queue's batch holds entries 1 and 2 at indexes 0 and 1.
    dropped, *kept = _publish_batch(sns, topic_arn, ["user_signup", "order_placed", "order_placed"])

    delivered = [_wait_delivered(store, message_id) for message_id in kept]

    for message_id, journey in zip(kept, delivered, strict=True):
        assert _kinds(journey) == THROUGH_THE_QUEUE, (message_id, _kinds(journey))
        assert journey.ordered()[0].detail["message_id"] == message_id
    (journey,) = store.find(dropped)
    assert _kinds(journey) == sorted([HopKind.PUBLISHED, HopKind.FILTERED_OUT])
    (filtered,) = [h for h in journey.hops if h.kind == HopKind.FILTERED_OUT]
    assert filtered.detail["failed_key"] == "event_type"
    assert filtered.detail["failed_value"] == "user_signup"
    assert journey.settled and len({j.id for j in [journey, *delivered]}) == 3


def test_the_entries_of_one_send_message_batch_are_journeys_of_their_own(
    traced_sqs: tuple[Any, JourneyStore],
) -> None:
    client, store = traced_sqs
    queue_url = client.create_queue(QueueName=f"batch-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    trace = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    header = {"AWSTraceHeader": {"DataType": "String", "StringValue": f"Root={trace};Sampled=1"}}
    entries = [
        {"Id": f"e{n}", "MessageBody": f"m{n}", "MessageSystemAttributes": header} for n in range(3)
    ]
    sent = client.send_message_batch(QueueUrl=queue_url, Entries=entries)["Successful"]
    ids = [entry["MessageId"] for entry in sent]

    found = [store.find(message_id)[0] for message_id in ids]
    assert len({j.id for j in found}) == 3, [j.id for j in found]
    assert {j.trace_id for j in found} == {trace} and len(store.find(trace)) == 3
    for journey in found:
        assert [h.kind for h in journey.hops] == [HopKind.ENQUEUED]

    # A single message with that trace continues the journey the trace names (the first).
    single = client.send_message(
        QueueUrl=queue_url, MessageBody="later", MessageSystemAttributes=header
    )["MessageId"]
    (journey,) = store.find(single)
    assert journey.id == found[0].id and len(journey.hops) == 2
    assert len(store.find(trace)) == 3


def test_an_entry_sqs_refuses_keeps_the_later_entries_on_their_own_messages(
    sns_to_sqs: tuple[Any, Any, JourneyStore],
) -> None:
    sns, sqs, store = sns_to_sqs
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    topic_arn, queue_url = _subscribed_queue(sns, sqs)
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"MaximumMessageSize": "1024"})
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    sns.set_subscription_attributes(
        SubscriptionArn=subscription["SubscriptionArn"],
        AttributeName="RedrivePolicy",
        AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}),
    )
    entries = [{"Id": f"e{n}", "Message": body} for n, body in enumerate(["a", "b" * 2000, "c"])]
    answer = sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
    first, refused, last = [entry["MessageId"] for entry in answer["Successful"]]

    # SQS refused the middle entry (too large), which SNS sent on to the DLQ.
    wait_until(
        lambda: sqs.receive_message(QueueUrl=dlq_url).get("Messages"),
        timeout=10,
        description="the refused entry in the DLQ",
    )
    enqueued = {}
    for message_id in (first, last):
        journey = _wait_delivered(store, message_id)
        (enqueued[message_id],) = [h for h in journey.hops if h.kind == HopKind.ENQUEUED]
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = {m["MessageId"]: m["Body"] for m in received}
    # Each enqueue is its own message's, though the queue's batch held a failed entry.
    assert bodies[enqueued[first].detail["message_id"]] == "a"
    assert bodies[enqueued[last].detail["message_id"]] == "c"
    # Its own journey has no enqueue. Nor its DLQ hop: upstream's batch path hands the DLQ
    # only the entry's body, which names no message.
    (journey,) = store.find(refused)
    assert HopKind.ENQUEUED not in [h.kind for h in journey.hops]
