"""SQS -> event source mapping -> Lambda: batches as AWS forms them.

AWS fills a batch up to BatchSize within MaximumBatchingWindowInSeconds, however many
pollers the mapping has. Before, the sandbox's four pollers and LocalStack's receive
(which honours a window only above 20 s) split them: 30 messages, BatchSize 20, a 1 s
window and MaximumConcurrency 2 came as 20 + 9 + 1, and a BatchSize of 1000 as dozens of
small batches. Messages are sent while the mapping runs, all within its window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eda_sandbox.testing import AwsClients, wait_until
from eda_sandbox.testing.logs import log_events

pytestmark = pytest.mark.integration

COUNTER = {"app.py": "def handler(event, context):\n    print('BATCH', len(event['Records']))\n"}


def _mapping(
    aws: AwsClients,
    lambda_create_function: Any,
    sqs_create_queue: Any,
    **mapping: Any,
) -> tuple[str, str, Callable[[], list[int]]]:
    """A queue, a function that logs its batch sizes, and an enabled mapping between them;
    returns the queue URL, the mapping UUID and a reader of the batch sizes so far."""
    fn = lambda_create_function(COUNTER, timeout=30)
    url = sqs_create_queue(Attributes={"VisibilityTimeout": "180"})
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    uuid = aws.lambda_.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn["FunctionName"], **mapping
    )["UUID"]
    wait_until(
        lambda: aws.lambda_.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
        timeout=15,
        description=f"mapping {uuid} enabled",
    )
    group = f"/aws/lambda/{fn['FunctionName']}"

    def sizes() -> list[int]:
        events = log_events(aws.client("logs"), group, '"BATCH"')
        return [int(e["message"].split()[1]) for e in events if e["message"].startswith("BATCH")]

    return str(url), str(uuid), sizes


def _send(aws: AwsClients, url: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [
            {"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(min(10, count - start))
        ]
        sent = aws.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not sent.get("Failed"), sent


def _batches(sizes: Callable[[], list[int]], total: int) -> list[int]:
    """The batch sizes once ``total`` messages were handled (none is invoked twice: every
    batch succeeds, so its messages are deleted)."""
    seen: list[int] = []

    def all_handled() -> list[int] | None:
        seen[:] = sizes()
        return seen if sum(seen) >= total else None

    wait_until(
        all_handled,
        timeout=30,
        description=f"{total} messages handled",
        describe_last=lambda _v: f"batches so far: {seen}",
    )
    return sorted(seen, reverse=True)


def test_awss_numbers_30_messages_batch_20_window_1s_concurrency_2(
    aws: AwsClients,
    lambda_create_function: Any,
    sqs_create_queue: Any,
) -> None:
    url, uuid, sizes = _mapping(
        aws,
        lambda_create_function,
        sqs_create_queue,
        BatchSize=20,
        MaximumBatchingWindowInSeconds=1,
        ScalingConfig={"MaximumConcurrency": 2},
    )
    try:
        _send(aws, url, 30)
        assert _batches(sizes, 30) == [20, 10]
    finally:
        aws.lambda_.delete_event_source_mapping(UUID=uuid)


@pytest.mark.parametrize("batch_size", [20, 100, 1000])
def test_a_batch_size_override_fills_one_batch(
    aws: AwsClients,
    lambda_create_function: Any,
    sqs_create_queue: Any,
    batch_size: int,
) -> None:
    """BatchSize messages sent within the window (20 s; a full batch goes at once) are one
    invocation."""
    url, uuid, sizes = _mapping(
        aws,
        lambda_create_function,
        sqs_create_queue,
        BatchSize=batch_size,
        MaximumBatchingWindowInSeconds=20,
    )
    try:
        _send(aws, url, batch_size)
        assert _batches(sizes, batch_size) == [batch_size]
    finally:
        aws.lambda_.delete_event_source_mapping(UUID=uuid)
