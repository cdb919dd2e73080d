"""Internal calls skip the wire but reach the provider, and answer, as the wire would.

Each test compares the direct call with the same call on the wire, in this process:
botocore serializes (with LocalStack's internal-parameter handlers), LocalStack's parser
and its account, region, internal-parameter and trace handlers run, the provider answers,
LocalStack's serializer writes the response and botocore parses it. SQS is LocalStack's
real provider; Lambda is a stand-in provider with the real API (a real one needs the
whole runtime).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.retryhandler
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ParamValidationError
from localstack import config as localstack_config
from localstack.aws import handlers
from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.api.lambda_ import InvocationResponse, LambdaApi
from localstack.aws.client import _ResponseStream, create_http_request
from localstack.aws.connect import _handler_create_request_parameters, _handler_inject_dto_header
from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.http import Response
from localstack.services.logs.provider import LogsProvider
from localstack.services.moto import MotoFallbackDispatcher
from localstack.services.sqs.provider import SqsProvider

from eda_sandbox import direct_calls

SOURCE = "arn:aws:sns:eu-west-1:111111111111:EventTopic"


@pytest.fixture(scope="module")
def skeleton() -> Iterator[Skeleton]:
    # No CloudWatch metrics: their client would call whatever answers on port 4566.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(localstack_config, "SQS_DISABLE_CLOUDWATCH_METRICS", True)
        yield Skeleton(load_service("sqs"), SqsProvider())


def _wire_client(service: str, skeleton: Skeleton) -> Any:
    """A client like LocalStack's internal ones, whose requests go through LocalStack's
    parser, context handlers, the provider and LocalStack's serializer."""
    client = boto3.session.Session().client(
        service,
        region_name="eu-west-1",
        endpoint_url="http://localhost.localstack.cloud:4566",
        aws_access_key_id="111111111111",
        aws_secret_access_key="secret",
    )
    client.meta.events.register("provide-client-params.*.*", _handler_create_request_parameters)
    client.meta.events.register("before-call.*.*", _handler_inject_dto_header)

    def wire(request: Any, **_kwargs: Any) -> AWSResponse:
        context = RequestContext(create_http_request(request))
        context.service = client.meta.service_model
        response = Response()
        for handler in (
            handlers.add_internal_request_params,
            handlers.parse_service_name,
            handlers.add_region_from_header,
            handlers.add_account_id,
            handlers.parse_trace_context,
            handlers.parse_service_request,
        ):
            handler(None, context, response)
        answer = skeleton.invoke(context)
        return AWSResponse(
            context.request.url, answer.status_code, answer.headers, _ResponseStream(answer)
        )

    client.meta.events.register_first("before-send.*.*", wire)
    return client


@pytest.fixture
def client(skeleton: Skeleton) -> Any:
    return _wire_client("sqs", skeleton)


def _direct(
    client: Any, skeleton: Skeleton, operation: str = "SendMessage"
) -> direct_calls.DirectOperation:
    method = client.meta.method_to_api_mapping
    name = next(m for m, api in method.items() if api == operation)
    direct = direct_calls.DirectOperation(client, operation, getattr(client, name))
    direct._dispatch = skeleton.dispatch_table[operation]
    return direct


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


def test_custom_headers_arrive_as_request_headers(client: Any, skeleton: Skeleton) -> None:
    trace = {"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}
    stored = []
    for send in (client.send_message, _direct(client, skeleton)):
        url = _queue(client)
        send(QueueUrl=url, MessageBody="x", _CustomHeaders=trace)
        stored.append(_received(client, url))
    assert stored[0] == stored[1]
    assert stored[1][0]["Attributes"]["AWSTraceHeader"] == trace["X-Amzn-Trace-Id"]


def test_handlers_registered_on_the_client_run_as_on_the_wire(
    client: Any, skeleton: Skeleton
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
    for receive in (client.receive_message, _direct(client, skeleton, "ReceiveMessage")):
        url = _queue(client)
        for i in range(12):
            client.send_message(QueueUrl=url, MessageBody=str(i))
        got = receive(QueueUrl=url, MaxNumberOfMessages=10, override_count=12)
        counts.append(len(got["Messages"]))
    assert counts == [12, 12]  # more than SQS's 10: the override reached the provider


def test_a_positional_call_takes_the_client_path(client: Any) -> None:
    calls: list[tuple[Any, ...]] = []

    def fallback(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(args)
        return {}

    direct_calls.DirectOperation(client, "SendMessage", fallback)("positional")
    assert calls == [("positional",)]


def test_receive_change_visibility_and_delete_as_on_the_wire(
    client: Any, skeleton: Skeleton
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
                _direct(client, skeleton, "ReceiveMessage"),
                _direct(client, skeleton, "ChangeMessageVisibilityBatch"),
                _direct(client, skeleton, "DeleteMessageBatch"),
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


class _Lambda(LambdaApi):
    """Answers Invoke as LocalStack's provider does, from what the request carries."""

    def __init__(self) -> None:
        self.contexts: list[Any] = []

    def invoke(  # type: ignore[override]
        self,
        context: Any,
        function_name: str,
        invocation_type: str | None = None,
        log_type: str | None = None,
        payload: Any = None,
        qualifier: str | None = None,
        **_kwargs: Any,
    ) -> InvocationResponse:
        self.contexts.append(context)
        body = payload.read() if payload else b""
        if function_name == "missing":
            raise CommonServiceException("ResourceNotFoundException", "no such function", 404)
        if function_name == "busy":
            raise CommonServiceException("TooManyRequestsException", "Rate Exceeded.", 429)
        if invocation_type == "Event":
            return InvocationResponse(StatusCode=202)
        response = InvocationResponse(StatusCode=200, Payload=body[::-1], ExecutedVersion="$LATEST")
        if body == b'"fail"':
            response["FunctionError"] = "Unhandled"
        if log_type == "Tail":
            response["LogResult"] = "bG9n"
        return response


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"FunctionName": "f", "Payload": b'{"a": 1}'}, id="request-response"),
        pytest.param({"FunctionName": "f", "Payload": '"fail"', "LogType": "Tail"}, id="error"),
        pytest.param(
            {"FunctionName": "f", "InvocationType": "Event", "Payload": b"{}"}, id="event"
        ),
        pytest.param({"FunctionName": "f"}, id="no payload"),
    ],
)
def test_lambda_invoke_answers_as_on_the_wire(params: dict[str, Any]) -> None:
    skeleton = Skeleton(load_service("lambda"), _Lambda())
    client = _wire_client("lambda", skeleton)
    wire = client.invoke(**params)
    direct = _direct(client, skeleton, "Invoke")(**params)

    assert wire["Payload"].read() == direct["Payload"].read()
    for answer in (wire, direct):
        answer.pop("Payload")
        meta = answer.pop("ResponseMetadata")
        answer["status"] = meta["HTTPStatusCode"]
    assert direct == wire


@pytest.mark.parametrize("name", ["missing", "busy"])
def test_lambda_invoke_errors_raise_and_retry_as_on_the_wire(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No back-off sleeps: the clients are built after this, with the patched delay.
    monkeypatch.setattr(botocore.retryhandler, "delay_exponential", lambda **_kw: 0)
    provider = _Lambda()
    skeleton = Skeleton(load_service("lambda"), provider)
    client = _wire_client("lambda", skeleton)
    with pytest.raises(ClientError) as on_wire:
        client.invoke(FunctionName=name)
    wire_calls = len(provider.contexts)
    with pytest.raises(ClientError) as direct:
        _direct(client, skeleton, "Invoke")(FunctionName=name)
    direct_calls_made = len(provider.contexts) - wire_calls

    assert type(direct.value) is type(on_wire.value)
    assert direct.value.response["Error"] == on_wire.value.response["Error"]
    retries = [e.value.response["ResponseMetadata"]["RetryAttempts"] for e in (on_wire, direct)]
    assert retries[0] == retries[1]
    # Throttling is retried by the client's policy (legacy: 4 retries); a missing
    # function is not.
    assert direct_calls_made == wire_calls == (5 if name == "busy" else 1)


def test_lambda_retries_keep_their_request_id_and_trace() -> None:
    # The async event manager re-invokes with the first invocation's request id and trace.
    provider = _Lambda()
    skeleton = Skeleton(load_service("lambda"), provider)
    client = _wire_client("lambda", skeleton)
    headers = {
        "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        "X-Amz-Request-Id": "6479de2e-44d0-47c9-ac32-4d720d411eb1",
    }
    client.invoke(FunctionName="f", _CustomHeaders=headers)
    _direct(client, skeleton, "Invoke")(FunctionName="f", _CustomHeaders=headers)

    wire, direct = provider.contexts
    assert direct.request_id == wire.request_id == headers["X-Amz-Request-Id"]
    trace = [c.trace_context["aws_trace_header"].to_header_str() for c in (wire, direct)]
    assert trace[0] == trace[1]
    # The client's agent; botocore appends per-request feature ids on the wire.
    assert wire.request.user_agent.string.startswith(direct.request.user_agent.string)
    assert direct.request.user_agent.string.startswith("Boto3/")


def test_log_uploads_reach_moto_as_on_the_wire() -> None:
    # LocalStack's Logs provider hands the request itself to moto: the direct call must
    # carry the serialized body, the account and the region (eu-west-1 here).
    # As LocalStack builds the service: what the provider lacks falls through to moto.
    skeleton = Skeleton(load_service("logs"), MotoFallbackDispatcher(LogsProvider()))
    client = _wire_client("logs", skeleton)
    group = f"/aws/lambda/f-{uuid.uuid4().hex[:8]}"
    client.create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": f"line {i}"} for i in range(3)]
    answers, stored = [], []
    for stream, put in (("wire", client.put_log_events), ("direct", None)):
        put = put or _direct(client, skeleton, "PutLogEvents")
        client.create_log_stream(logGroupName=group, logStreamName=stream)
        answer = put(logGroupName=group, logStreamName=stream, logEvents=events)
        answer.pop("ResponseMetadata")
        answers.append(answer)
        got = client.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        stored.append([(e["timestamp"], e["message"]) for e in got])

    assert answers[0] == answers[1]
    assert stored[0] == stored[1] == [(e["timestamp"], e["message"]) for e in events]
    with pytest.raises(ClientError) as on_wire:
        client.put_log_events(logGroupName=group, logStreamName="missing", logEvents=events)
    with pytest.raises(ClientError) as direct:
        _direct(client, skeleton, "PutLogEvents")(
            logGroupName=group, logStreamName="missing", logEvents=events
        )
    assert type(direct.value) is type(on_wire.value)
    assert direct.value.response["Error"] == on_wire.value.response["Error"]


def test_install_routes_only_the_listed_operations() -> None:
    session = boto3.session.Session()
    kwargs: dict[str, Any] = {
        "region_name": "eu-west-1",
        "endpoint_url": "http://127.0.0.1:1",
        "aws_access_key_id": "k",
        "aws_secret_access_key": "s",
    }
    sqs = direct_calls.install(session.client("sqs", **kwargs))
    sns = direct_calls.install(session.client("sns", **kwargs))

    lam = direct_calls.install(session.client("lambda", **kwargs))

    assert isinstance(sqs.send_message, direct_calls.DirectOperation)
    assert isinstance(sqs.delete_message_batch, direct_calls.DirectOperation)
    assert isinstance(lam.invoke, direct_calls.DirectOperation)
    assert not isinstance(sqs.send_message_batch, direct_calls.DirectOperation)
    assert not isinstance(lam.get_function, direct_calls.DirectOperation)
    assert not isinstance(sns.publish, direct_calls.DirectOperation)
