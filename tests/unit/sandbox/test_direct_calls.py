"""SNS-to-SQS deliveries skip the wire but reach the SQS provider as the wire would.

Each test runs LocalStack's real SQS provider in this process and compares the direct
call with the same call on the wire: botocore serializes, LocalStack's parser, account,
region and internal-parameter handlers run, its serializer answers and botocore parses.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ParamValidationError
from localstack.aws import handlers
from localstack.aws.api import RequestContext
from localstack.aws.client import _ResponseStream, create_http_request
from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.http import Response
from localstack.services.sqs.provider import SqsProvider

from eda_sandbox import direct_calls

SOURCE = "arn:aws:sns:eu-west-1:111111111111:EventTopic"


@pytest.fixture(scope="module")
def skeleton() -> Skeleton:
    return Skeleton(load_service("sqs"), SqsProvider())


@pytest.fixture
def client(skeleton: Skeleton) -> Any:
    """An SQS client whose requests go through LocalStack's parser, handlers and provider."""
    sqs = boto3.session.Session().client(
        "sqs",
        region_name="eu-west-1",
        endpoint_url="http://localhost.localstack.cloud:4566",
        aws_access_key_id="111111111111",
        aws_secret_access_key="secret",
    )

    def wire(request: Any, **_kwargs: Any) -> AWSResponse:
        context = RequestContext(create_http_request(request))
        context.service = sqs.meta.service_model
        response = Response()
        for handler in (
            handlers.add_internal_request_params,
            handlers.add_region_from_header,
            handlers.add_account_id,
            handlers.parse_service_request,
        ):
            handler(None, context, response)
        answer = skeleton.invoke(context)
        return AWSResponse(
            context.request.url, answer.status_code, answer.headers, _ResponseStream(answer)
        )

    sqs.meta.events.register_first("before-send.*.*", wire)
    return sqs


def _direct(client: Any, skeleton: Skeleton) -> direct_calls.DirectOperation:
    operation = direct_calls.DirectOperation(client, "SendMessage", client.send_message)
    operation._dispatch = skeleton.dispatch_table["SendMessage"]
    return operation


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


def test_a_delivery_stores_and_answers_what_the_wire_does(client: Any, skeleton: Skeleton) -> None:
    wire_url, direct_url = _queue(client), _queue(client)
    params = {"MessageBody": '{"order": 1}', "MessageAttributes": ATTRIBUTES}
    wire = client.send_message(QueueUrl=wire_url, MessageSystemAttributes=SYSTEM, **params)
    direct = _direct(client, skeleton)(
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
    client: Any, skeleton: Skeleton
) -> None:
    send = _direct(client, skeleton)
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


def test_each_delivery_gets_its_own_copy_of_the_parameters(client: Any, skeleton: Skeleton) -> None:
    url = _queue(client)
    shared = {"event_type": {"DataType": "String", "StringValue": "order_placed"}}
    _direct(client, skeleton)(QueueUrl=url, MessageBody="x", MessageAttributes=shared)
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
    client: Any, skeleton: Skeleton, params: dict[str, Any]
) -> None:
    url = _queue(client)
    call = {"QueueUrl": url, "MessageBody": "x"} | params
    if call["QueueUrl"] == "missing":
        call["QueueUrl"] = url + "-missing"
    with pytest.raises(ClientError) as on_wire:
        client.send_message(**call)
    with pytest.raises(ClientError) as direct:
        _direct(client, skeleton)(**call)

    assert type(direct.value) is type(on_wire.value)
    assert direct.value.response["Error"] == on_wire.value.response["Error"]
    status = direct.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == on_wire.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_bad_parameters_fail_validation_before_the_provider(client: Any) -> None:
    def provider(*_args: Any) -> dict[str, Any]:
        raise AssertionError("the provider must not be called")

    operation = direct_calls.DirectOperation(client, "SendMessage", client.send_message)
    operation._dispatch = provider
    with pytest.raises(ParamValidationError, match="MessageBody"):
        operation(QueueUrl="https://example/q")


def test_the_context_carries_account_region_and_internal_parameters(client: Any) -> None:
    seen: list[Any] = []

    def provider(context: Any, request: dict[str, Any]) -> dict[str, Any]:
        seen.append((context, request))
        return {"MessageId": "m-1", "MD5OfMessageBody": "0" * 32, "Unmodelled": "dropped"}

    operation = direct_calls.DirectOperation(client, "SendMessage", client.send_message)
    operation._dispatch = provider
    answer = operation(QueueUrl="u", MessageBody="x", _SourceArn=SOURCE, _ServicePrincipal="sns")

    [(context, request)] = seen
    assert request == {"QueueUrl": "u", "MessageBody": "x"}
    assert (context.account_id, context.region, context.protocol) == (
        "111111111111",
        "eu-west-1",
        "json",
    )
    assert dict(context.internal_request_params) == {
        "source_arn": SOURCE,
        "service_principal": "sns",
    }
    assert context.is_internal_call
    assert context.operation.name == "SendMessage"
    assert "Unmodelled" not in answer
    assert answer["MessageId"] == "m-1"


def test_custom_headers_take_the_client_path(client: Any) -> None:
    calls: list[dict[str, Any]] = []

    def fallback(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return {}

    operation = direct_calls.DirectOperation(client, "SendMessage", fallback)
    operation(QueueUrl="u", MessageBody="x", _CustomHeaders={"X-Amzn-Trace-Id": "Root=1"})
    headers = {"X-Amzn-Trace-Id": "Root=1"}
    assert calls == [{"QueueUrl": "u", "MessageBody": "x", "_CustomHeaders": headers}]


def test_install_routes_only_sqs_send_message() -> None:
    session = boto3.session.Session()
    kwargs: dict[str, Any] = {
        "region_name": "eu-west-1",
        "endpoint_url": "http://127.0.0.1:1",
        "aws_access_key_id": "k",
        "aws_secret_access_key": "s",
    }
    sqs = direct_calls.install(session.client("sqs", **kwargs))
    sns = direct_calls.install(session.client("sns", **kwargs))

    assert isinstance(sqs.send_message, direct_calls.DirectOperation)
    assert not isinstance(sqs.send_message_batch, direct_calls.DirectOperation)
    assert not isinstance(sns.publish, direct_calls.DirectOperation)
