"""The trace header reaches the function as ``_X_AMZN_TRACE_ID``, as on AWS: from SNS
through SQS and the event source mapping (the messages' ``AWSTraceHeader``), and from a
direct ``Invoke`` with an ``X-Amzn-Trace-Id`` header. Python (awslambdaric) and Node.js
(our bootstrap) both read it from the Runtime API's ``Lambda-Runtime-Trace-Id``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eda_sandbox.testing import AwsClients, wait_for_log, wait_until

pytestmark = pytest.mark.integration

PYTHON = """
import json, os

def handler(event, context):
    records = event.get("Records") or [{"body": json.dumps(event)}]
    cid = json.loads(records[0]["body"]).get("correlation_id")
    trace = os.environ.get("_X_AMZN_TRACE_ID")
    print("TRACE", cid, trace)
    return {"trace": trace}
"""

NODE = """
exports.handler = async (event) => {
  const records = event.Records || [{ body: JSON.stringify(event) }];
  const cid = JSON.parse(records[0].body).correlation_id;
  const trace = process.env._X_AMZN_TRACE_ID || null;
  console.log(`TRACE ${cid} ${trace}`);
  return { trace };
};
"""

FUNCTIONS = {
    "python3.12": ({"app.py": PYTHON}, "app.handler"),
    "nodejs22.x": ({"index.js": NODE}, "index.handler"),
}


def _root(header: str | None) -> str | None:
    for part in (header or "").split(";"):
        name, _, value = part.partition("=")
        if name.strip() == "Root":
            return value
    return None


@pytest.fixture(params=sorted(FUNCTIONS))
def traced_function(request: pytest.FixtureRequest, lambda_create_function: Any) -> str:
    """A function that logs and returns the ``_X_AMZN_TRACE_ID`` it sees, per runtime."""
    code, handler = FUNCTIONS[request.param]
    fn = lambda_create_function(code, runtime=request.param, handler=handler)
    assert fn["State"] == "Active", fn
    return str(fn["FunctionName"])


@pytest.fixture
def subscribed_consumer(
    aws: AwsClients, sns_create_topic: Any, sqs_create_queue: Any
) -> Iterator[Callable[[str], str]]:
    """Topic -> queue (raw delivery) -> mapping -> the function; returns the topic ARN.
    The mapping is deleted afterwards (the queue and topic by their own fixtures)."""
    mappings: list[str] = []

    def create(function: str) -> str:
        topic = sns_create_topic()
        url = sqs_create_queue()
        arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        aws.sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        uuid = aws.lambda_.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, BatchSize=1
        )["UUID"]
        mappings.append(uuid)
        wait_until(
            lambda: aws.lambda_.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
            timeout=15,
            description=f"mapping {uuid} enabled",
        )
        return str(topic)

    yield create
    for uuid in mappings:
        aws.lambda_.delete_event_source_mapping(UUID=uuid)


def test_an_sqs_mapping_invokes_with_the_published_events_trace(
    aws: AwsClients,
    traced_function: str,
    subscribed_consumer: Callable[[str], str],
    correlation_id: str,
    journey: Any,
) -> None:
    topic = subscribed_consumer(traced_function)
    aws.sns.publish(
        TopicArn=topic,
        Message=json.dumps({"correlation_id": correlation_id}),
        MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": correlation_id}},
    )

    (line,) = wait_for_log(aws.logs, traced_function, f"TRACE {correlation_id}", timeout=30)
    header = re.search(r"TRACE \S+ (\S+)", line)
    seen = journey(correlation_id).wait_until_settled(timeout=20).reached(traced_function)
    (found,) = seen.journeys()
    # The Root of the SNS publish's journey, with the Parent and Sampled AWS adds.
    assert header and found.trace_id and _root(header[1]) == found.trace_id, (line, found)
    assert "Parent=" in header[1] and "Sampled=" in header[1], line


def test_a_direct_invoke_passes_its_trace_header_on(
    aws: AwsClients, traced_function: str, correlation_id: str
) -> None:
    sent = "Root=1-6753c2a4-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    # A client of its own: the header handler must not reach the shared clients.
    client = AwsClients(aws.endpoint_url, aws.region, aws.session).client("lambda")
    client.meta.events.register(
        "before-sign.lambda.Invoke",
        lambda request, **_: request.headers.__setitem__("X-Amzn-Trace-Id", sent),
    )
    response = client.invoke(
        FunctionName=traced_function,
        Payload=json.dumps({"correlation_id": correlation_id}).encode(),
    )
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    assert _root(body["trace"]) == "1-6753c2a4-0123456789abcdef01234567", body
