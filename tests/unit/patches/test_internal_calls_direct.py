"""Direct internal calls: the context, validation and fallback rules, Lambda's Invoke and
CloudWatch Logs' PutLogEvents, each compared with the same call on LocalStack's wire."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import botocore.retryhandler
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from localstack.aws.api import CommonServiceException
from localstack.aws.api.lambda_ import InvocationResponse, LambdaApi
from localstack.aws.connect import get_service_endpoint
from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.services.logs.provider import LogsProvider
from localstack.services.moto import MotoFallbackDispatcher

from eda_sandbox.patches.internal_calls import direct as direct_calls

SOURCE = "arn:aws:sns:eu-west-1:111111111111:EventTopic"


@pytest.fixture
def client(wire_client: Any) -> Any:
    return wire_client("sqs", Skeleton(load_service("sqs"), {}))


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


def test_a_positional_call_takes_the_client_path(client: Any) -> None:
    calls: list[tuple[Any, ...]] = []

    def fallback(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(args)
        return {}

    direct_calls.DirectOperation(client, "SendMessage", fallback)("positional")
    assert calls == [("positional",)]


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
def test_lambda_invoke_answers_as_on_the_wire(
    params: dict[str, Any], direct_call: Any, wire_client: Any
) -> None:
    skeleton = Skeleton(load_service("lambda"), _Lambda())
    client = wire_client("lambda", skeleton)
    wire = client.invoke(**params)
    direct = direct_call(client, skeleton, "Invoke")(**params)

    assert wire["Payload"].read() == direct["Payload"].read()
    for answer in (wire, direct):
        answer.pop("Payload")
        meta = answer.pop("ResponseMetadata")
        answer["status"] = meta["HTTPStatusCode"]
    assert direct == wire


@pytest.mark.parametrize("name", ["missing", "busy"])
def test_lambda_invoke_errors_raise_and_retry_as_on_the_wire(
    name: str, monkeypatch: pytest.MonkeyPatch, direct_call: Any, wire_client: Any
) -> None:
    # No back-off sleeps: the clients are built after this, with the patched delay.
    monkeypatch.setattr(botocore.retryhandler, "delay_exponential", lambda **_kw: 0)
    provider = _Lambda()
    skeleton = Skeleton(load_service("lambda"), provider)
    client = wire_client("lambda", skeleton)
    with pytest.raises(ClientError) as on_wire:
        client.invoke(FunctionName=name)
    wire_calls = len(provider.contexts)
    with pytest.raises(ClientError) as direct:
        direct_call(client, skeleton, "Invoke")(FunctionName=name)
    direct_calls_made = len(provider.contexts) - wire_calls

    assert type(direct.value) is type(on_wire.value)
    assert direct.value.response["Error"] == on_wire.value.response["Error"]
    retries = [e.value.response["ResponseMetadata"]["RetryAttempts"] for e in (on_wire, direct)]
    assert retries[0] == retries[1]
    # Throttling is retried by the client's policy (legacy: 4 retries); a missing
    # function is not.
    assert direct_calls_made == wire_calls == (5 if name == "busy" else 1)


def test_lambda_retries_keep_their_request_id_and_trace(direct_call: Any, wire_client: Any) -> None:
    # The async event manager re-invokes with the first invocation's request id and trace.
    provider = _Lambda()
    skeleton = Skeleton(load_service("lambda"), provider)
    client = wire_client("lambda", skeleton)
    headers = {
        "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        "X-Amz-Request-Id": "6479de2e-44d0-47c9-ac32-4d720d411eb1",
    }
    client.invoke(FunctionName="f", _CustomHeaders=headers)
    direct_call(client, skeleton, "Invoke")(FunctionName="f", _CustomHeaders=headers)

    wire, direct = provider.contexts
    assert direct.request_id == wire.request_id == headers["X-Amz-Request-Id"]
    trace = [c.trace_context["aws_trace_header"].to_header_str() for c in (wire, direct)]
    assert trace[0] == trace[1]
    # The client's agent; botocore appends per-request feature ids on the wire.
    assert wire.request.user_agent.string.startswith(direct.request.user_agent.string)
    assert direct.request.user_agent.string.startswith("Boto3/")


def test_log_uploads_reach_moto_as_on_the_wire(direct_call: Any, wire_client: Any) -> None:
    # LocalStack's Logs provider hands the request itself to moto: the direct call must
    # carry the serialized body, the account and the region (eu-west-1 here).
    # As LocalStack builds the service: what the provider lacks falls through to moto.
    skeleton = Skeleton(load_service("logs"), MotoFallbackDispatcher(LogsProvider()))
    client = wire_client("logs", skeleton)
    group = f"/aws/lambda/f-{uuid.uuid4().hex[:8]}"
    client.create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": f"line {i}"} for i in range(3)]
    answers, stored = [], []
    for stream, put in (("wire", client.put_log_events), ("direct", None)):
        put = put or direct_call(client, skeleton, "PutLogEvents")
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
        direct_call(client, skeleton, "PutLogEvents")(
            logGroupName=group, logStreamName="missing", logEvents=events
        )
    assert type(direct.value) is type(on_wire.value)
    assert direct.value.response["Error"] == on_wire.value.response["Error"]


def test_install_routes_only_the_listed_operations() -> None:
    session = boto3.session.Session()
    kwargs: dict[str, Any] = {
        "region_name": "eu-west-1",
        "endpoint_url": get_service_endpoint(),
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
    # A client of another endpoint (DynamoDB Local, a real AWS region) is left alone.
    elsewhere = direct_calls.install(
        session.client("sqs", **(kwargs | {"endpoint_url": "http://127.0.0.1:1"}))
    )
    assert not isinstance(elsewhere.send_message, direct_calls.DirectOperation)
