"""An event source mapping's Invoke carries the trace header of its batch's messages."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from localstack.services.lambda_.event_source_mapping.senders.lambda_sender import LambdaSender

from eda_sandbox.patches.awslambda import trace_header

ARN = "arn:aws:lambda:us-east-1:000000000000:function:order_consumer"
ROOT_A = "Root=1-67891233-abcdef012345678912345678;Sampled=1"
ROOT_B = "Root=1-67891234-bbbbbbbbbbbbbbbbbbbbbbbb;Sampled=1"


class _Client:
    """What the sender calls: LocalStack's ``MetadataRequestInjector`` surface."""

    def __init__(self, calls: list[tuple[dict[str, str], dict[str, Any]]], headers: Any) -> None:
        self.calls = calls
        self.headers = headers

    def custom_headers(self, headers: dict[str, str]) -> _Client:
        return _Client(self.calls, {**(self.headers or {}), **headers})

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((dict(self.headers or {}), kwargs))
        return {"Payload": io.BytesIO(b"{}"), "StatusCode": 200, "ResponseMetadata": {}}


def _record(message_id: str, header: str | None) -> dict[str, Any]:
    attributes = {"ApproximateReceiveCount": "1"}
    if header:
        attributes["AWSTraceHeader"] = header
    return {"messageId": message_id, "body": "{}", "attributes": attributes}


@pytest.fixture
def patched() -> Iterator[None]:
    trace_header.carry_trace_header_to_invocations()
    yield
    trace_header.revert()


@pytest.fixture
def sender() -> tuple[LambdaSender, list[tuple[dict[str, str], dict[str, Any]]]]:
    calls: list[tuple[dict[str, str], dict[str, Any]]] = []
    client = _Client(calls, None)
    target = {"LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"}}
    return LambdaSender(ARN, target, client, payload_dict=True), calls


def test_the_first_record_with_a_header_names_the_trace() -> None:
    records = [_record("m1", None), _record("m2", ROOT_A), _record("m3", ROOT_B)]
    assert trace_header.batch_trace_header(records) == ROOT_A
    assert trace_header.batch_trace_header({"Records": records}) == ROOT_A
    assert trace_header.batch_trace_header([_record("m1", None)]) is None
    assert trace_header.batch_trace_header([{"dynamodb": {}}, "junk"]) is None
    assert trace_header.batch_trace_header(None) is None


def test_the_invoke_carries_the_batchs_trace_header(patched: None, sender: Any) -> None:
    lambda_sender, calls = sender
    lambda_sender.send_events([_record("m1", ROOT_A), _record("m2", ROOT_B)])

    ((headers, request),) = calls
    assert headers == {"X-Amzn-Trace-Id": ROOT_A}
    assert request["FunctionName"] == ARN
    # The mapping's own client is untouched: its other pollers share it.
    assert lambda_sender.target_client.headers is None


def test_a_batch_without_a_header_invokes_as_before(patched: None, sender: Any) -> None:
    lambda_sender, calls = sender
    lambda_sender.send_events([_record("m1", None)])
    assert calls[0][0] == {}


def test_revert_puts_localstacks_sender_back(sender: Any) -> None:
    original = LambdaSender.send_events
    trace_header.carry_trace_header_to_invocations()
    trace_header.carry_trace_header_to_invocations()  # once only
    assert LambdaSender.send_events is not original
    trace_header.revert()
    assert LambdaSender.send_events is original

    lambda_sender, calls = sender
    lambda_sender.send_events([_record("m1", ROOT_A)])
    assert calls[0][0] == {}  # upstream: no trace header on the invoke
