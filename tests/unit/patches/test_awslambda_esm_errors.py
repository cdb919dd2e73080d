"""A failed event source mapping batch is logged with its reason (it ended at the colon)."""

from __future__ import annotations

import logging

import pytest
from localstack.services.lambda_.event_source_mapping import event_processor

from eda_sandbox.patches.awslambda import esm_errors

ARN = "arn:aws:lambda:us-east-1:000000000000:function:order_consumer"


@pytest.fixture
def explained(monkeypatch: pytest.MonkeyPatch) -> None:
    # Registered first, so monkeypatch puts LocalStack's own __str__ back afterwards.
    for cls in (event_processor.BatchFailureError, event_processor.PartialBatchFailureError):
        monkeypatch.setattr(cls, "__str__", cls.__str__)
    esm_errors.explain_batch_failures()


def test_a_function_error_says_which_function_and_request(
    explained: None, caplog: pytest.LogCaptureFixture
) -> None:
    error = event_processor.BatchFailureError(
        error={
            "message": f"Target {ARN} encountered an error while processing event(s).",
            "httpStatusCode": 200,
            "requestId": "req-1",
            "resourceArn": ARN,
            "functionError": "Unhandled",
        }
    )
    # LocalStack's SQS poller logs exactly this way (pollers/sqs_poller.py).
    logging.getLogger("t").warning("Polling or batch processing failed: %s", error)

    assert caplog.messages == [
        "Polling or batch processing failed: BatchFailureError: function order_consumer "
        "returned FunctionError Unhandled, status 200, request id req-1 "
        "(its log: /aws/lambda/order_consumer)"
    ]


def test_an_error_without_a_record_names_its_cause(explained: None) -> None:
    error = event_processor.BatchFailureError()
    error.__cause__ = ConnectionError("gateway closed")
    assert str(error) == "BatchFailureError (ConnectionError: gateway closed)"
    assert str(event_processor.PartialBatchFailureError()) == "PartialBatchFailureError"
