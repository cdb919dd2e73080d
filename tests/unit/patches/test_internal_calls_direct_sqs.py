"""SQS calls from inside LocalStack (SNS deliveries, event source mappings) skip the wire
but reach LocalStack's real SQS provider, and answer, as the wire would.

Each test makes the same call on the wire (botocore serializes, LocalStack parses, runs
its account, region, internal-parameter and trace handlers, the provider answers and
LocalStack's serializer writes the response for botocore to parse) and directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localstack import config as localstack_config
from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.services.sqs.provider import SqsProvider

SOURCE = "arn:aws:sns:eu-west-1:111111111111:EventTopic"


@pytest.fixture(scope="module")
def skeleton() -> Iterator[Skeleton]:
    # No CloudWatch metrics: their client would call whatever answers on port 4566.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(localstack_config, "SQS_DISABLE_CLOUDWATCH_METRICS", True)
        yield Skeleton(load_service("sqs"), SqsProvider())


@pytest.fixture
def client(skeleton: Skeleton, wire_client: Any) -> Any:
    return wire_client("sqs", skeleton)


def _queue(client: Any, fifo: bool = False) -> str:
    name = f"q-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    return str(client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def _received(client: Any, url: str) -> list[dict[str, Any]]:
    messages = client.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    for message in messages:
        for volatile in ("MessageId", "ReceiptHandle"):
            message.pop(volatile)
        for volatile in ("SentTimestamp", "ApproximateFirstReceiveTimestamp", "SequenceNumber"):
            message["Attributes"].pop(volatile, None)
    return list(messages)


def _answer(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("MessageId", "ResponseMetadata")}


ATTRIBUTES = {
    "event_type": {"DataType": "String", "StringValue": "order_placed"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    "n": {"DataType": "Number", "StringValue": "42"},
}
SYSTEM = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe"}}


def test_a_delivery_stores_and_answers_what_the_wire_does(
    client: Any, skeleton: Skeleton, direct_call: Any
) -> None:
    wire_url, direct_url = _queue(client), _queue(client)
    params = {"MessageBody": '{"order": 1}', "MessageAttributes": ATTRIBUTES}
    wire = client.send_message(QueueUrl=wire_url, MessageSystemAttributes=SYSTEM, **params)
    direct = direct_call(client, skeleton)(
        QueueUrl=direct_url,
        MessageSystemAttributes=SYSTEM,
        _SourceArn=SOURCE,
        _ServicePrincipal="sns",
        **params,
    )

    assert _answer(direct) == _answer(wire)
    assert set(direct["ResponseMetadata"]) >= {"RequestId", "HTTPStatusCode"}
    stored = _received(client, direct_url)
    assert stored == _received(client, wire_url)
    assert stored[0]["Attributes"]["SenderId"] == "111111111111"
    assert stored[0]["Attributes"]["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe"


def test_fifo_parameters_and_deduplication_behave_as_on_the_wire(
    client: Any, skeleton: Skeleton, direct_call: Any
) -> None:
    send = direct_call(client, skeleton)
    results = {}
    for path, url in (("wire", _queue(client, fifo=True)), ("direct", _queue(client, fifo=True))):
        call = client.send_message if path == "wire" else send
        for _ in range(2):  # the second is a duplicate within the deduplication interval
            answer = call(
                QueueUrl=url, MessageBody="x", MessageGroupId="c-1", MessageDeduplicationId="d-1"
            )
        results[path] = (_answer(answer).keys(), _received(client, url))
    assert results["direct"] == results["wire"]
    assert len(results["direct"][1]) == 1
    assert "SequenceNumber" in results["direct"][0]


def test_each_delivery_gets_its_own_copy_of_the_parameters(
    client: Any, skeleton: Skeleton, direct_call: Any
) -> None:
    url = _queue(client)
    shared = {"event_type": {"DataType": "String", "StringValue": "order_placed"}}
    direct_call(client, skeleton)(QueueUrl=url, MessageBody="x", MessageAttributes=shared)
    shared["event_type"]["StringValue"] = "changed afterwards"

    [message] = _received(client, url)
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "order_placed"


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"QueueUrl": "missing"}, id="no such queue"),
        pytest.param({"MessageBody": "not \x01 allowed"}, id="invalid characters"),
    ],
)
def test_provider_errors_raise_what_the_client_raises(
    client: Any, skeleton: Skeleton, params: dict[str, Any], direct_call: Any
) -> None:
    url = _queue(client)
    call = {"QueueUrl": url, "MessageBody": "x"} | params
    if call["QueueUrl"] == "missing":
        call["QueueUrl"] = url + "-missing"
    with pytest.raises(ClientError) as on_wire:
        client.send_message(**call)
    with pytest.raises(ClientError) as direct:
        direct_call(client, skeleton)(**call)

    assert type(direct.value) is type(on_wire.value)
    assert direct.value.response["Error"] == on_wire.value.response["Error"]
    status = direct.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == on_wire.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_custom_headers_arrive_as_request_headers(
    client: Any, skeleton: Skeleton, direct_call: Any
) -> None:
    trace = {"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}
    stored = []
    for send in (client.send_message, direct_call(client, skeleton)):
        url = _queue(client)
        send(QueueUrl=url, MessageBody="x", _CustomHeaders=trace)
        stored.append(_received(client, url))
    assert stored[0] == stored[1]
    assert stored[1][0]["Attributes"]["AWSTraceHeader"] == trace["X-Amzn-Trace-Id"]


def test_handlers_registered_on_the_client_run_as_on_the_wire(
    client: Any, skeleton: Skeleton, direct_call: Any
) -> None:
    # LocalStack's SQS poller passes overrides this way: a parameter moved into the
    # request context, then into a header the provider reads.
    header = "x-localstack-sqs-override-message-count"

    def take(params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
        if count := params.pop("override_count", None):
            context[header] = str(count)

    def inject(params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
        if value := context.pop(header, None):
            params["headers"][header] = value

    client.meta.events.register("provide-client-params.sqs.ReceiveMessage", take)
    client.meta.events.register("before-call.sqs.ReceiveMessage", inject)
    counts = []
    for receive in (client.receive_message, direct_call(client, skeleton, "ReceiveMessage")):
        url = _queue(client)
        for i in range(12):
            client.send_message(QueueUrl=url, MessageBody=str(i))
        got = receive(QueueUrl=url, MaxNumberOfMessages=10, override_count=12)
        counts.append(len(got["Messages"]))
    assert counts == [12, 12]  # more than SQS's 10: the override reached the provider


def test_receive_change_visibility_and_delete_as_on_the_wire(
    client: Any, skeleton: Skeleton, direct_call: Any
) -> None:
    seen = {}
    for path in ("wire", "direct"):
        url = _queue(client)
        client.send_message(QueueUrl=url, MessageBody="a", MessageAttributes=ATTRIBUTES)
        client.send_message(QueueUrl=url, MessageBody="b")
        if path == "wire":
            receive, change, delete = (
                client.receive_message,
                client.change_message_visibility_batch,
                client.delete_message_batch,
            )
        else:
            receive, change, delete = (
                direct_call(client, skeleton, "ReceiveMessage"),
                direct_call(client, skeleton, "ChangeMessageVisibilityBatch"),
                direct_call(client, skeleton, "DeleteMessageBatch"),
            )
        got = receive(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = sorted(got["Messages"], key=lambda m: m["Body"])
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        changed = change(
            QueueUrl=url,
            Entries=[e | {"VisibilityTimeout": 0} for e in entries]
            + [{"Id": "bad", "ReceiptHandle": "nope", "VisibilityTimeout": 0}],
        )
        again = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        handles = [{"Id": m["Body"], "ReceiptHandle": m["ReceiptHandle"]} for m in again]
        deleted = delete(QueueUrl=url, Entries=handles)
        for m in messages:
            m.pop("MessageId"), m.pop("ReceiptHandle")
        seen[path] = (
            messages,
            sorted(e["Id"] for e in changed.get("Successful", [])),
            [(e["Id"], e["Code"]) for e in changed.get("Failed", [])],
            sorted(e["Id"] for e in deleted["Successful"]),
            client.receive_message(QueueUrl=url).get("Messages", []),
        )
    assert seen["direct"] == seen["wire"]
    assert seen["direct"][1] == ["0", "1"]
    assert seen["direct"][2] and seen["direct"][3] == ["a", "b"]
    assert seen["direct"][0][0]["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\xff"
