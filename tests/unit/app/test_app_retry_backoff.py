"""The failed-record backoff the SQS consumers share (layers/shared: eda_events.retry_backoff)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from eda_events import retry_backoff


def record(message_id: str, received: int) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "attributes": {"ApproximateReceiveCount": str(received)},
    }


def test_only_failed_records_back_off_doubling_per_receive() -> None:
    records = [record("ok", 1), record("a", 1), record("b", 2), record("c", 3)]
    calls = retry_backoff.backoff_entries(records, ["a", "b", "c"], base_seconds=1)
    assert calls == [
        [
            {"Id": "0", "ReceiptHandle": "rh-a", "VisibilityTimeout": 1},
            {"Id": "1", "ReceiptHandle": "rh-b", "VisibilityTimeout": 2},
            {"Id": "2", "ReceiptHandle": "rh-c", "VisibilityTimeout": 4},
        ]
    ]


def test_batches_of_ten_and_the_sqs_cap() -> None:
    records = [record(str(i), 30) for i in range(23)]
    calls = retry_backoff.backoff_entries(records, [str(i) for i in range(23)], base_seconds=5)
    assert [len(c) for c in calls] == [10, 10, 3]
    assert {e["VisibilityTimeout"] for c in calls for e in c} == {43_200}


class FakeSqs:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.fail:
            raise ConnectionError("endpoint down")
        return {"Successful": [], "Failed": []}


def test_applies_to_the_source_queue() -> None:
    sqs = FakeSqs()
    event = {"Records": [record("a", 1), record("b", 1)]}
    retry_backoff.retry_failed_soon(sqs, "http://q", event, ["b"], 1, logging.getLogger())
    assert sqs.calls == [
        {
            "QueueUrl": "http://q",
            "Entries": [{"Id": "0", "ReceiptHandle": "rh-b", "VisibilityTimeout": 1}],
        }
    ]


@pytest.mark.parametrize(("url", "base"), [("", 1), ("http://q", 0)])
def test_disabled_without_a_queue_or_a_base(url: str, base: int) -> None:
    sqs = FakeSqs()
    retry_backoff.retry_failed_soon(
        sqs, url, {"Records": [record("a", 1)]}, ["a"], base, logging.getLogger()
    )
    assert sqs.calls == []


def test_a_failing_call_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    retry_backoff.retry_failed_soon(
        FakeSqs(fail=True),
        "http://q",
        {"Records": [record("a", 1)]},
        ["a"],
        1,
        logging.getLogger("t"),
    )
    assert "could not shorten the visibility" in caplog.text
