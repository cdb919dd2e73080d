"""PutEvents is sized as AWS sizes it: every entry's Time, Source, DetailType, Detail and
Resources, summed over the request, against 1 MB (eda_sandbox.limits cites AWS's pages).

LocalStack alone counted each Detail's characters against 256 KB and never the request.
The events go to the default bus, where no rule of the topology matches them.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from eda_sandbox.limits import EVENTBRIDGE_MAX_REQUEST_BYTES
from eda_sandbox.testing import AwsClients

pytestmark = pytest.mark.integration


def entry(correlation_id: str, detail_bytes: int, **extra: object) -> dict[str, object]:
    detail = json.dumps({"correlation_id": correlation_id, "pad": ""})
    detail = detail[:-2] + "x" * (detail_bytes - len(detail)) + '"}'
    return {"Source": "eda.size-test", "DetailType": "size", "Detail": detail, **extra}


def test_one_event_over_256_kb_is_accepted(aws: AwsClients, correlation_id: str) -> None:
    response = aws.events.put_events(Entries=[entry(correlation_id, 300_000)])
    assert response["FailedEntryCount"] == 0


def test_a_request_over_the_limit_is_refused_even_when_each_entry_is_small(
    aws: AwsClients, correlation_id: str
) -> None:
    # Five entries of 210 KB: each is far below the limit, the request is over it.
    entries = [entry(correlation_id, 210_000) for _ in range(5)]
    with pytest.raises(ClientError) as caught:
        aws.events.put_events(Entries=entries)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "over the limit" in caught.value.response["Error"]["Message"]


def test_resources_and_source_count_towards_the_size(aws: AwsClients, correlation_id: str) -> None:
    # The Detail alone fits; with the Resources the entry is one byte over.
    resources = ["arn:aws:s3:::" + "r" * 1000] * 10
    fixed = len("eda.size-test") + len("size") + sum(len(r) for r in resources)
    over = entry(correlation_id, EVENTBRIDGE_MAX_REQUEST_BYTES - fixed + 1, Resources=resources)
    with pytest.raises(ClientError) as caught:
        aws.events.put_events(Entries=[over])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
