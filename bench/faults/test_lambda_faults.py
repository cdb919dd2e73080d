"""Fault checks against the running sandbox (``make soak``; kept out of ``make test``).

Each test says what AWS does and checks the sandbox does the same.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher
from eda_sandbox.testing import AwsClients, wait_until

CONSUMER = """
import json, os, time
import boto3

def handler(event, context):
    for record in event["Records"]:
        if record["attributes"]["ApproximateReceiveCount"] == "1":
            # On a queue, not in a file: the function's /tmp is its own, as on AWS.
            pid = str(os.getpid())
            boto3.client("sqs").send_message(QueueUrl=os.environ["PIDS"], MessageBody=pid)
            time.sleep(60)  # killed here
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]]
    boto3.client("sqs").send_message(QueueUrl=os.environ["RESULTS"], MessageBody=json.dumps(counts))
    return {"batchItemFailures": []}
"""

SLEEPER = """
import time

def handler(event, context):
    started = time.time()
    time.sleep(event.get("seconds", 0))
    return {"started": started, "ended": time.time()}
"""


def test_a_runtime_killed_mid_batch_fails_the_batch_and_it_is_delivered_again(
    aws: AwsClients, lambda_create_function: Any, sqs_create_queue: Any
) -> None:
    """AWS: a batch whose invocation fails (the runtime died: Runtime.ExitError) is not
    deleted; its messages become visible after the visibility timeout and are delivered
    again (ApproximateReceiveCount 2), and a fresh runtime serves the next invocation."""
    source = sqs_create_queue(Attributes={"VisibilityTimeout": "3"})
    results = sqs_create_queue()
    pids = sqs_create_queue()
    fn = lambda_create_function(
        {"app.py": CONSUMER},
        timeout=30,
        Environment={"Variables": {"PIDS": pids, "RESULTS": results}},
    )
    arn = aws.sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])
    mapping = aws.lambda_.create_event_source_mapping(
        FunctionName=fn["FunctionName"],
        EventSourceArn=arn["Attributes"]["QueueArn"],
        BatchSize=1,
    )
    try:
        aws.sqs.send_message(QueueUrl=source, MessageBody="one")

        def runtime_pid() -> str | None:
            got = aws.sqs.receive_message(QueueUrl=pids, WaitTimeSeconds=1)
            return next((m["Body"] for m in got.get("Messages", [])), None)

        pid = int(wait_until(runtime_pid, timeout=60, description="the runtime's pid"))
        os.kill(pid, signal.SIGKILL)

        def delivered() -> list[Any]:
            got = aws.sqs.receive_message(QueueUrl=results, WaitTimeSeconds=1)
            return [json.loads(m["Body"]) for m in got.get("Messages", [])]

        assert wait_until(delivered, timeout=30, description="the redelivered batch") == [["2"]]
        log = launcher.tail(load_settings(), 400)
        assert f"function {fn['FunctionName']} returned FunctionError Unhandled" in log
    finally:
        aws.lambda_.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_handler_past_its_timeout_is_stopped_at_the_timeout(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    """AWS: the invocation ends at the function's timeout with ``Task timed out after
    1.00 seconds`` and FunctionError Unhandled; the environment is replaced, and the next
    invocation runs normally."""
    fn = lambda_create_function({"app.py": SLEEPER}, timeout=1)
    started = time.monotonic()
    resp = aws.lambda_.invoke(FunctionName=fn["FunctionName"], Payload=b'{"seconds": 5}')
    took = time.monotonic() - started
    body = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert took < 4, f"the invocation took {took:.1f} s, not about the 1 s timeout"
    again = aws.lambda_.invoke(FunctionName=fn["FunctionName"], Payload=b"{}")
    assert "FunctionError" not in again


def test_fifty_concurrent_invokes_against_reserved_concurrency_two(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    """AWS: with reserved concurrency 2, at most two invocations run at once; each
    synchronous invoke beyond that is refused at once with TooManyRequestsException
    (HTTP 429, reason ReservedFunctionConcurrentInvocationLimitExceeded)."""
    fn = lambda_create_function({"app.py": SLEEPER}, timeout=10)
    aws.lambda_.put_function_concurrency(
        FunctionName=fn["FunctionName"], ReservedConcurrentExecutions=2
    )
    # No client retries: each of the 50 calls is one invocation attempt.
    client = boto3.client(
        "lambda",
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=50, read_timeout=30),
    )

    def invoke(_: int) -> dict[str, Any] | str:
        try:
            resp = client.invoke(FunctionName=fn["FunctionName"], Payload=b'{"seconds": 1}')
        except ClientError as e:
            return str(e.response["Error"]["Code"])
        result: dict[str, Any] = json.loads(resp["Payload"].read())
        return result

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(invoke, range(50)))
    ran = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert set(refused) <= {"TooManyRequestsException"}, refused
    assert len(ran) >= 2
    assert len(ran) + len(refused) == 50
    # The most invocations that overlapped in time.
    edges = sorted([(r["started"], 1) for r in ran] + [(r["ended"], -1) for r in ran])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak <= 2, f"{peak} invocations ran at once under reserved concurrency 2"
