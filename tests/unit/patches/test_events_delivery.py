"""EventBridge target delivery: retries within the RetryPolicy, then the dead-letter queue
with AWS's attributes; errors classified as AWS classifies them."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from eda_sandbox.patches.events import delivery
from eda_sandbox.patches.events.failures import Failure, TargetAccessDeniedError, classify

RULE = "arn:aws:events:us-east-1:000000000000:rule/app-bus/OrderPlaced"
DLQ = "arn:aws:sqs:us-east-1:000000000000:OrderPlaced-target-dlq"
# A target kind whose policy this patch does not read, so no LocalStack store is involved.
TARGET = "arn:aws:states:us-east-1:000000000000:stateMachine:orders"


def _client_error(code: str, status: int, message: str = "it failed") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Invoke",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error("ResourceNotFoundException", 404), ("NO_RESOURCE", False)),
        (_client_error("AWS.SimpleQueueService.NonExistentQueue", 400), ("NO_RESOURCE", False)),
        (_client_error("NotFound", 404), ("NO_RESOURCE", False)),
        (_client_error("AuthorizationError", 403), ("NO_PERMISSIONS", False)),
        (TargetAccessDeniedError("denied"), ("NO_PERMISSIONS", False)),
        (_client_error("TooManyRequestsException", 429), ("THROTTLING", True)),
        (_client_error("ServiceException", 500), ("INTERNAL_ERROR", True)),
        (_client_error("ResourceConflictException", 409), ("INTERNAL_ERROR", True)),
        (_client_error("InvalidParameterValueException", 400), ("INVALID_PARAMETER", False)),
        (_client_error("KMSDisabledException", 400), ("SDK_CLIENT_ERROR", False)),
        (EndpointConnectionError(endpoint_url="http://x"), ("CONNECTION_FAILURE", True)),
        (NotImplementedError("Batch target is not yet implemented"), ("INTERNAL_ERROR", False)),
    ],
)
def test_errors_are_classified_as_aws_does(error: Exception, expected: tuple[str, bool]) -> None:
    failure = classify(error)
    assert (failure.code, failure.retryable) == expected
    assert failure.message


def test_backoff_doubles_up_to_ten_minutes_with_jitter_and_scales() -> None:
    rng = random.Random(7)
    for retry in range(1, 40):
        full = min(600.0, 2.0 ** (retry - 1))
        assert full / 2 <= delivery.backoff(retry, rng=rng) <= full
    assert delivery.backoff(3, 1 / 60, random.Random(1)) == pytest.approx(
        delivery.backoff(3, 1.0, random.Random(1)) / 60
    )


RETRYABLE = Failure("THROTTLING", "slow down", retryable=True)
PERMANENT = Failure("NO_RESOURCE", "gone", retryable=False)


@pytest.mark.parametrize(
    ("failure", "retries", "age", "delay", "expected"),
    [
        (PERMANENT, 0, 0.0, 1.0, "MaximumRetryAttempts"),  # never retried
        (RETRYABLE, 1, 0.0, 1.0, None),
        (RETRYABLE, 2, 0.0, 1.0, "MaximumRetryAttempts"),
        (RETRYABLE, 0, 59.5, 1.0, "MaximumEventAgeInSeconds"),  # the retry would start late
        (RETRYABLE, 0, 58.0, 1.0, None),
    ],
)
def test_the_retry_policy_ends_a_delivery(
    failure: Failure, retries: int, age: float, delay: float, expected: str | None
) -> None:
    policy = delivery.RetryPolicy(attempts=2, max_age=60)
    assert delivery.exhausted(policy, failure, retries, age, delay) == expected


def test_aws_defaults_apply_when_the_target_has_no_retry_policy() -> None:
    assert delivery.RetryPolicy.of({}) == delivery.RetryPolicy(185, 86_400)
    policy = {"RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}}
    assert delivery.RetryPolicy.of(policy) == delivery.RetryPolicy(0, 60)


class _Sender:
    def __init__(self, retry: dict[str, int] | None = None, dlq: str | None = DLQ) -> None:
        self.rule_arn = RULE
        self.target: dict[str, Any] = {"Id": "t1", "Arn": TARGET}
        if retry is not None:
            self.target["RetryPolicy"] = retry
        if dlq:
            self.target["DeadLetterConfig"] = {"Arn": dlq}


class _NowTimer:
    """Runs a retry at once, recording the wait it was given."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.delays.append(delay)
        callback()


class _Recording(delivery.Deliveries):
    def __init__(self, send: delivery.Send, factor: float = 1 / 60) -> None:
        self.timer = _NowTimer()
        super().__init__(send, factor, self.timer)  # type: ignore[arg-type]
        self.dead_letters: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def _send_dead_letter(
        self, rule_arn: str, dlq: str, event: dict[str, Any], attributes: dict[str, Any]
    ) -> None:
        values = {k: v["StringValue"] for k, v in attributes.items()}
        self.dead_letters.append((dlq, event, values))


def _failing(times: int, error: Exception) -> tuple[delivery.Send, list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def send(_sender: Any, event: dict[str, Any], _trace: Any) -> None:
        calls.append(event)
        if len(calls) <= times:
            raise error

    return send, calls


EVENT = {"id": "e-1", "detail-type": "application.event", "detail": {"order_id": "o1"}}


def test_a_retryable_failure_is_retried_then_dead_lettered_with_awss_attributes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    send, calls = _failing(99, _client_error("TooManyRequestsException", 429, "Rate Exceeded."))
    deliveries = _Recording(send)
    with caplog.at_level(logging.WARNING):
        deliveries.deliver(_Sender(retry={"MaximumRetryAttempts": 2}), EVENT, None)

    assert len(calls) == 3  # the attempt and 2 retries
    assert len(deliveries.timer.delays) == 2 and all(d < 0.05 for d in deliveries.timer.delays)
    [(queue, event, attributes)] = deliveries.dead_letters
    assert (queue, event) == (DLQ, EVENT)
    assert attributes == {
        "RULE_ARN": RULE,
        "TARGET_ARN": TARGET,
        "ERROR_CODE": "THROTTLING",
        "ERROR_MESSAGE": "Rate Exceeded.",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "2",
    }
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, [r.getMessage() for r in warnings]
    assert "retry 1 of 2" in warnings[0].getMessage()
    assert "sent to the dead-letter queue" in warnings[-1].getMessage()


def test_a_retry_that_succeeds_delivers_once_and_dead_letters_nothing() -> None:
    send, calls = _failing(1, _client_error("ServiceException", 500))
    deliveries = _Recording(send)
    deliveries.deliver(_Sender(), EVENT, None)
    assert len(calls) == 2 and deliveries.dead_letters == []


def test_the_event_age_ends_retries_that_would_start_too_late() -> None:
    """With AWS's own delays (factor 1000 here: the first wait is minutes) the first retry
    would begin after MaximumEventAgeInSeconds."""
    send, calls = _failing(99, _client_error("ServiceException", 500))
    deliveries = _Recording(send, factor=1000)
    deliveries.deliver(_Sender(retry={"MaximumEventAgeInSeconds": 60}), EVENT, None)
    assert len(calls) == 1
    [(_, _, attributes)] = deliveries.dead_letters
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert attributes["RETRY_ATTEMPTS"] == "0"


def test_a_missing_target_is_not_retried() -> None:
    send, calls = _failing(
        99, _client_error("ResourceNotFoundException", 404, "Function not found")
    )
    deliveries = _Recording(send)
    deliveries.deliver(_Sender(retry={"MaximumRetryAttempts": 5}), EVENT, None)
    assert len(calls) == 1 and deliveries.timer.delays == []
    [(_, _, attributes)] = deliveries.dead_letters
    assert (attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]) == ("NO_RESOURCE", "0")


def test_without_a_dead_letter_queue_the_drop_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    send, _ = _failing(99, _client_error("ResourceNotFoundException", 404))
    deliveries = _Recording(send)
    with caplog.at_level(logging.WARNING):
        deliveries.deliver(_Sender(dlq=None), EVENT, None)
    assert deliveries.dead_letters == []
    assert "dropped: the target has no dead-letter queue" in caplog.text


def test_each_attempt_gets_its_own_copy_of_the_event() -> None:
    seen: list[dict[str, Any]] = []

    def send(_sender: Any, event: dict[str, Any], _trace: Any) -> None:
        event.pop("event-bus-name", None)  # what LocalStack's process_event does
        seen.append(event)
        if len(seen) == 1:
            raise _client_error("ServiceException", 500)

    _Recording(send).deliver(_Sender(), {**EVENT, "event-bus-name": "app-bus"}, None)
    assert len(seen) == 2 and seen[0] is not seen[1]


def test_the_retry_timer_runs_callbacks_in_due_order() -> None:
    timer = delivery.RetryTimer(workers=1)
    ran: list[str] = []
    done = threading.Event()
    timer.call_later(0.2, lambda: (ran.append("late"), done.set()))
    timer.call_later(0.05, lambda: ran.append("early"))
    assert done.wait(5)
    assert ran == ["early", "late"]
