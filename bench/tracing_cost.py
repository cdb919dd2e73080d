"""CPU cost of journey tracing per SQS message, in this process, without the host's noise.

LocalStack's real SQS provider (in-process, on the wire as its internal clients call it):
send, receive and delete N messages with the tracing instrumentor off, then on. The
pipeline's own CPU per event is 10-12.5 ms (bench/RESULTS.md), so the difference per
message says what share tracing takes where ``pipeline.py`` on a loaded host cannot.

The store's own cost per hop is printed too: a hop that starts a journey on a full ring
(the oldest journey leaves), all journeys sharing one correlation id as a benchmark's or a
test's events do, and a hop added to a journey already there.

    .venv/bin/python bench/tracing_cost.py [--messages 2000]
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import boto3
from localstack import config as localstack_config
from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.services.sqs.provider import SqsProvider

from eda_sandbox.journeys.model import HopKind
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.internal_calls import direct as direct_calls
from eda_sandbox.patches.tracing.base import Instrumentor
from eda_sandbox.patches.tracing.sqs import SqsInstrumentor


def _client(skeleton: Skeleton) -> Any:
    # A direct-call client (patches/internal_calls/direct.py), as SNS and the ESM use.
    client = boto3.session.Session().client(
        "sqs",
        region_name="eu-west-1",
        endpoint_url="http://localhost.localstack.cloud:4566",
        aws_access_key_id="111111111111",
        aws_secret_access_key="secret",
    )
    for op in ("CreateQueue", "SendMessage", "ReceiveMessage", "DeleteMessage"):
        method = direct_calls.DirectOperation(
            client, op, getattr(client, direct_calls.xform_name(op))
        )
        method._dispatch = skeleton.dispatch_table[op]
        setattr(client, direct_calls.xform_name(op), method)
    return client


def run(messages: int, traced: bool) -> float:
    store = JourneyStore(1000)
    instrumentor = SqsInstrumentor(store)
    if traced:
        instrumentor.instrument()
    try:
        client = _client(Skeleton(load_service("sqs"), SqsProvider()))
        url = client.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        started = time.process_time()
        for n in range(messages):
            client.send_message(QueueUrl=url, MessageBody=f'{{"correlation_id": "c{n}"}}')
            for m in client.receive_message(QueueUrl=url).get("Messages", []):
                client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return (time.process_time() - started) / messages * 1000
    finally:
        instrumentor.uninstrument()


def store_cost(hops: int) -> tuple[float, float]:
    """CPU microseconds per hop: starting a journey on a full ring, adding to one."""
    recorder = Instrumentor(JourneyStore(1000))
    started = time.process_time()
    for n in range(hops):
        recorder.record(
            HopKind.PUBLISHED,
            "EventTopic",
            keys=(f"m{n}",),
            correlation_ids=("bench-run",),
            trace_header=f"Root=1-{n:08x}-0123456789abcdef01234567;Sampled=1",
            new=True,
            message_id=f"m{n}",
        )
    new = (time.process_time() - started) / hops * 1e6
    started = time.process_time()
    for n in range(hops):
        recorder.record(HopKind.RECEIVED, "EventQueue", keys=(f"m{n}",), receive_count=1)
    return new, (time.process_time() - started) / hops * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    localstack_config.SQS_DISABLE_CLOUDWATCH_METRICS = True
    run(200, False)  # warm-up: imports, specs
    for _ in range(2):
        off = run(args.messages, False)
        on = run(args.messages, True)
        print(
            f"per message (send+receive+delete, CPU): off {off:.3f} ms, on {on:.3f} ms, "
            f"tracing {on - off:.3f} ms ({(on - off) / off * 100:.1f}% of this path)"
        )
    new, existing = store_cost(5 * args.messages)
    print(
        f"store per hop (CPU): new journey on a full ring {new:.1f} us, existing {existing:.1f} us"
    )


if __name__ == "__main__":
    main()
