"""Node.js errors shaped as AWS's Node runtime shapes them: thrown errors, non-Errors,
rejected promises, init failures (import, handler, syntax) and timeouts."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from eda_sandbox.testing import AwsClients

ERRORS_JS = """
class OrderError extends Error {
  constructor(message) { super(message); this.name = 'OrderError'; }
}
exports.thrown = async () => { throw new OrderError('order o-1 is not valid'); };
exports.string = async () => { throw 'just a string'; };
exports.undefined = () => Promise.reject(undefined);
exports.rejected = () => Promise.reject(new TypeError('rejected on purpose'));
exports.callback = (event, context, callback) => callback(new RangeError('via callback'));
exports.pid = async (event) => {
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  return process.pid;
};
"""


def invoke(aws: AwsClients, name: str, event: Any = None) -> tuple[dict[str, Any], Any, str]:
    payload = json.dumps(event or {}).encode()
    resp = aws.lambda_.invoke(FunctionName=name, Payload=payload, LogType="Tail")
    logs = base64.b64decode(resp.get("LogResult", "")).decode()
    return resp, json.loads(resp["Payload"].read() or b"null"), logs


@pytest.mark.parametrize(
    ("handler", "error_type", "message", "has_trace"),
    [
        ("index.thrown", "OrderError", "order o-1 is not valid", True),
        ("index.rejected", "TypeError", "rejected on purpose", True),
        ("index.callback", "RangeError", "via callback", True),
        ("index.string", "string", "just a string", False),
        ("index.undefined", "string", "handled", False),
    ],
    ids=["thrown", "rejected", "callback", "thrown-string", "rejected-undefined"],
)
def test_invocation_errors(
    aws: AwsClients,
    lambda_create_function: Any,
    handler: str,
    error_type: str,
    message: str,
    has_trace: bool,
) -> None:
    fn = lambda_create_function({"index.js": ERRORS_JS}, runtime="nodejs22.x", handler=handler)
    resp, body, logs = invoke(aws, fn["FunctionName"])
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type, body
    assert body["errorMessage"] == message
    assert isinstance(body["trace"], list)
    if has_trace:
        assert body["trace"][0] == f"{error_type}: {message}"
        assert any("index.js" in frame for frame in body["trace"]), body["trace"]
    else:
        assert body["trace"] == []
    assert "\tERROR\tInvoke Error \t{" in logs, logs


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"index.js": "exports.handler = async () => 1;"},
            "missing.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'",
        ),
        (
            {"index.js": "require('not-packaged-anywhere');\nexports.handler = async () => 1;"},
            "index.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'not-packaged-anywhere'",
        ),
        (
            {"index.js": "exports.other = async () => 1;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
        ),
        (
            {"index.js": "exports.handler = async ( => 1;"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: Unexpected token '=>'",
        ),
    ],
    ids=["missing-module", "missing-dependency", "missing-handler", "syntax-error"],
)
def test_init_errors(
    aws: AwsClients,
    lambda_create_function: Any,
    files: dict[str, str],
    handler: str,
    error_type: str,
    message: str,
) -> None:
    fn = lambda_create_function(files, runtime="nodejs20.x", handler=handler)
    for _ in range(2):  # AWS re-runs the init on the next invoke, failing the same way
        resp, body, logs = invoke(aws, fn["FunctionName"])
        assert resp["FunctionError"] == "Unhandled"
        assert body["errorType"] == error_type, body
        assert body["errorMessage"].startswith(message), body
        assert body["trace"][0].startswith(f"{error_type}: {message}")
        assert "\tundefined\tERROR\tUncaught Exception \t{" in logs, logs


def test_timeout_replaces_the_environment(aws: AwsClients, lambda_create_function: Any) -> None:
    fn = lambda_create_function(
        {"index.js": ERRORS_JS}, runtime="nodejs22.x", handler="index.pid", timeout=1
    )
    _, before, _ = invoke(aws, fn["FunctionName"])
    resp, body, logs = invoke(aws, fn["FunctionName"], {"sleep": 5000})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds"), body
    assert "Task timed out after 1.00 seconds" in logs
    resp, after, _ = invoke(aws, fn["FunctionName"])
    assert "FunctionError" not in resp, after
    assert after != before, "the timed-out runtime process was reused"


def test_async_failure_reaches_the_on_failure_destination(
    aws: AwsClients,
    lambda_create_function: Any,
    sqs_create_queue: Any,
    receive_until: Any,
    correlation_id: str,
) -> None:
    """Async invocations, retries and destinations are the executor's, whatever the runtime."""
    queue = sqs_create_queue()
    arn = aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    fn = lambda_create_function(
        {"index.js": ERRORS_JS}, runtime="nodejs22.x", handler="index.thrown"
    )
    aws.lambda_.put_function_event_invoke_config(
        FunctionName=fn["FunctionName"],
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn["Attributes"]["QueueArn"]}},
    )
    aws.lambda_.invoke(
        FunctionName=fn["FunctionName"],
        InvocationType="Event",
        Payload=json.dumps({"marker": correlation_id}).encode(),
    )
    record = receive_until(queue, match=correlation_id, timeout=20)[0].parsed
    assert record["requestContext"]["condition"] == "RetriesExhausted", record
    assert record["requestPayload"] == {"marker": correlation_id}
    assert record["responsePayload"]["errorType"] == "OrderError", record
