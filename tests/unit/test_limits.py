"""PutEvents sizes as EventBridge documents them (eb-putevent-size.html)."""

from __future__ import annotations

from datetime import UTC, datetime

from eda_sandbox.limits import (
    EVENTBRIDGE_MAX_REQUEST_BYTES,
    putevents_entry_size,
    putevents_request_size,
)


def test_entry_size_counts_every_documented_field_in_utf8() -> None:
    entry = {
        "Time": datetime(2026, 1, 1, tzinfo=UTC),
        "Source": "my.app",  # 6
        "DetailType": "é",  # 2 bytes in UTF-8
        "Detail": '{"a":1}',  # 7
        "Resources": ["arn:1", "arn:22"],  # 5 + 6
        "EventBusName": "not-counted",
        "TraceHeader": "not-counted",
    }
    assert putevents_entry_size(entry) == 14 + 6 + 2 + 7 + 5 + 6


def test_request_size_is_the_sum_and_the_limit_is_1_mib() -> None:
    entries = [{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 3
    assert putevents_request_size(entries) == 3 * 4
    assert EVENTBRIDGE_MAX_REQUEST_BYTES == 1_048_576
