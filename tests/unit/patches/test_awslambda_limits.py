"""Invoke payload limits and dead-letter attributes (patches/awslambda/payloads.py, dlq.py)."""

from __future__ import annotations

from eda_sandbox.patches.awslambda import dlq, payloads


def test_invoke_payload_limits_are_awss() -> None:
    assert payloads.too_large(6 * 1024 * 1024, "RequestResponse") is None
    assert payloads.too_large(6 * 1024 * 1024 + 1, None) == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    assert payloads.too_large(1024 * 1024, "Event") is None
    assert payloads.too_large(1024 * 1024 + 1, "Event") == (
        "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )


def test_dead_letter_attributes_carry_the_request_id_and_1_kb_of_error() -> None:
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": "random"},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "é" * 1000},
    }
    out = dlq.aws_attributes(attributes, "req-1")
    assert out["RequestID"]["StringValue"] == "req-1"
    assert out["ErrorCode"]["StringValue"] == "200"
    assert out["ErrorMessage"]["StringValue"] == "é" * 512
    assert dlq.aws_attributes({"RequestID": {"StringValue": "x"}}, None)["RequestID"] == {
        "StringValue": "x"
    }
