"""The Docker-free executor, through boto3 as a user would drive it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from eda_sandbox.config import load_settings
from eda_sandbox.executor.limits import Capabilities
from eda_sandbox.executor.runtimes import RuntimeAdapter
from eda_sandbox.testing import AwsClients, wait_for_log, wait_until

APP = """
import json, os, time
import boto3  # the managed runtime provides it

def handler(event, context):
    print("marker", event.get("marker"), context.aws_request_id)
    action = event.get("action")
    if action == "fail":
        raise ValueError("boom: " + str(event.get("marker")))
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        os._exit(3)
    if action == "env":
        return {k: os.environ.get(k) for k in event["names"]}
    if action == "ddb_put":
        ddb = boto3.client("dynamodb")
        ddb.put_item(TableName=event["table"], Item={"pk": {"S": event["marker"]}})
        return {"endpoint": ddb.meta.endpoint_url}
    return {
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "pid": os.getpid(),
        "event": event,
        "version": "v1",
    }
"""


def invoke(aws: AwsClients, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    resp = aws.lambda_.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return resp, json.loads(resp["Payload"].read() or b"null")


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13"])
def test_success_returns_result_and_context(
    aws: AwsClients, lambda_create_function: Any, runtime: str
) -> None:
    fn = lambda_create_function({"app.py": APP}, runtime=runtime, timeout=7, MemorySize=256)
    assert fn["State"] == "Active", fn
    resp, body = invoke(aws, fn["FunctionName"], {"hello": "world"})
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp, body
    assert body["event"] == {"hello": "world"}
    assert body["request_id"] == resp["ResponseMetadata"]["RequestId"]
    assert body["arn"] == fn["FunctionArn"]
    assert body["name"] == fn["FunctionName"]
    assert body["memory"] == "256"
    assert 0 < body["remaining_ms"] <= 7000


def test_unhandled_error_is_aws_shaped(aws: AwsClients, lambda_create_function: Any) -> None:
    fn = lambda_create_function({"app.py": APP})
    resp, body = invoke(aws, fn["FunctionName"], {"action": "fail", "marker": "m1"})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom: m1"
    assert any("raise ValueError" in frame for frame in body["stackTrace"]), body


def test_timeout_kills_and_replaces_the_environment(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    fn = lambda_create_function({"app.py": APP}, timeout=1)
    _, before = invoke(aws, fn["FunctionName"], {})
    resp, body = invoke(aws, fn["FunctionName"], {"action": "sleep", "seconds": 5})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds"), body
    resp, after = invoke(aws, fn["FunctionName"], {})
    assert "FunctionError" not in resp, after
    assert after["pid"] != before["pid"], "the timed-out runtime process was reused"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "import not_packaged_anywhere\ndef handler(e, c): return 1\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_packaged_anywhere'",
        ),
        (
            {"app.py": "def other(e, c): return 1\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        (
            # requests is installed in the harness's venv: the function must not see it.
            {"app.py": "import requests\ndef handler(e, c): return 1\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'requests'",
        ),
    ],
    ids=["import-error", "missing-handler", "missing-dependency"],
)
def test_init_errors_are_aws_shaped(
    aws: AwsClients,
    lambda_create_function: Any,
    files: dict[str, str],
    handler: str,
    error_type: str,
    message: str,
) -> None:
    fn = lambda_create_function(files, handler=handler)
    for _ in range(2):  # AWS re-runs init on the next invoke; so must we
        resp, body = invoke(aws, fn["FunctionName"], {})
        assert resp["FunctionError"] == "Unhandled"
        assert body["errorType"] == error_type, body
        assert body["errorMessage"] == message


def test_environment_variables(
    aws: AwsClients, lambda_create_function: Any, execution_caps: Capabilities
) -> None:
    fn = lambda_create_function({"app.py": APP}, Environment={"Variables": {"GREETING": "hi"}})
    names = [
        "GREETING",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "AWS_ENDPOINT_URL",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_REGION",
        "TMPDIR",
        "VIRTUAL_ENV",
    ]
    _, env = invoke(aws, fn["FunctionName"], {"action": "env", "names": names})
    assert env["GREETING"] == "hi"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    # AWS's path where the sandbox can mount it (root), else the code's host folder.
    if execution_caps.mounts:
        assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    else:
        assert env["LAMBDA_TASK_ROOT"].endswith("/code")
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fn["FunctionName"]
    assert env["AWS_REGION"] == aws.region
    assert env["TMPDIR"] and env["TMPDIR"].endswith("/tmp")
    assert env["VIRTUAL_ENV"] is None, "the harness's virtualenv leaked into the function"


def test_functions_reach_dynamodb_directly_and_share_its_data(
    aws: AwsClients, lambda_create_function: Any, correlation_id: str, iam_enforced: bool
) -> None:
    """A function's DynamoDB client goes to the DynamoDB process, not the gateway (with
    EDA_SANDBOX_DYNAMODB=inline, or with IAM enforced, which checks calls in the gateway,
    to the gateway), and what it writes is what port 4566 serves."""
    table = f"exec-{correlation_id}"
    arn = aws.dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    try:
        fn = lambda_create_function(
            {"app.py": APP},
            permissions=[{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": arn}],
        )
        _, out = invoke(
            aws, fn["FunctionName"], {"action": "ddb_put", "table": table, "marker": "m1"}
        )
        assert out["endpoint"].startswith("http://127.0.0.1:")
        if load_settings().dynamodb_server == "process" and not iam_enforced:
            assert out["endpoint"] != aws.endpoint_url
        else:
            assert out["endpoint"] == aws.endpoint_url
        item = aws.dynamodb.get_item(TableName=table, Key={"pk": {"S": "m1"}}, ConsistentRead=True)
        assert item.get("Item") == {"pk": {"S": "m1"}}
    finally:
        aws.dynamodb.delete_table(TableName=table)


def test_logs_reach_cloudwatch(
    aws: AwsClients, lambda_create_function: Any, correlation_id: str
) -> None:
    fn = lambda_create_function({"app.py": APP})
    resp, body = invoke(aws, fn["FunctionName"], {"marker": correlation_id})
    request_id = body["request_id"]
    lines = wait_for_log(aws.logs, fn["FunctionName"], correlation_id)
    assert lines == [f"marker {correlation_id} {request_id}"]
    for text in (f"START RequestId: {request_id}", f"END RequestId: {request_id}"):
        wait_for_log(aws.logs, fn["FunctionName"], text)
    report = wait_for_log(aws.logs, fn["FunctionName"], f"REPORT RequestId: {request_id}")
    assert "Billed Duration" in report[0] and "Max Memory Used" in report[0]


def test_ten_parallel_invocations(aws: AwsClients, lambda_create_function: Any) -> None:
    fn = lambda_create_function({"app.py": APP})
    events = [{"action": "sleep", "seconds": 0.5, "i": i} for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda e: invoke(aws, fn["FunctionName"], e), events))
    errors = [body for resp, body in results if "FunctionError" in resp]
    assert not errors
    assert sorted(body["event"]["i"] for _, body in results) == list(range(10))
    pids = {body["pid"] for _, body in results}
    assert len(pids) > 1, "concurrent invocations shared one environment"


def test_reserved_concurrency_is_honoured(aws: AwsClients, lambda_create_function: Any) -> None:
    fn = lambda_create_function({"app.py": APP})
    aws.lambda_.put_function_concurrency(
        FunctionName=fn["FunctionName"], ReservedConcurrentExecutions=1
    )

    def call(i: int) -> str:
        try:
            invoke(aws, fn["FunctionName"], {"action": "sleep", "seconds": 1, "i": i})
        except aws.lambda_.exceptions.TooManyRequestsException:
            return "throttled"
        return "ok"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(call, range(4)))
    assert "ok" in outcomes and "throttled" in outcomes, outcomes


def test_code_update_is_picked_up(aws: AwsClients, lambda_create_function: Any) -> None:
    fn = lambda_create_function({"app.py": APP})
    _, first = invoke(aws, fn["FunctionName"], {})
    assert first["version"] == "v1"

    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", APP.replace('"version": "v1"', '"version": "v2"'))
    aws.lambda_.update_function_code(FunctionName=fn["FunctionName"], ZipFile=buf.getvalue())
    wait_until(
        lambda: (
            aws.lambda_.get_function_configuration(FunctionName=fn["FunctionName"])[
                "LastUpdateStatus"
            ]
            == "Successful"
        ),
        timeout=20,
        description="code update to finish",
    )
    _, second = invoke(aws, fn["FunctionName"], {})
    assert second["version"] == "v2"
    assert second["pid"] != first["pid"], "the old environment survived the update"


def test_runtime_crash_fails_only_that_invocation(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    fn = lambda_create_function({"app.py": APP})
    resp, body = invoke(aws, fn["FunctionName"], {"action": "exit"})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in body["errorMessage"]
    resp, body = invoke(aws, fn["FunctionName"], {})
    assert "FunctionError" not in resp, body


@pytest.mark.parametrize("runtime", ["python3.14", "nodejs16.x", "java21"])
def test_unsupported_runtime_is_refused_at_create_function(
    aws: AwsClients, lambda_create_function: Any, runtime: str
) -> None:
    """AWS knows these runtimes; the executor does not run them, so CreateFunction says so
    (before: accepted, then State=Failed and a hint to mount the Docker socket)."""
    with pytest.raises(aws.lambda_.exceptions.InvalidParameterValueException) as refused:
        lambda_create_function({"app.py": APP}, runtime=runtime)
    message = refused.value.response["Error"]["Message"]
    assert runtime in message and "not supported" in message, message
    assert all(served in message for served in RuntimeAdapter.supported()), message
    assert "nodejs22.x" in message and "python3.13" in message, message
    assert "docker" not in message.lower(), message


def test_unsupported_runtime_is_refused_at_update_and_the_function_keeps_its_own(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    fn = lambda_create_function({"app.py": APP})
    with pytest.raises(aws.lambda_.exceptions.InvalidParameterValueException) as refused:
        aws.lambda_.update_function_configuration(
            FunctionName=fn["FunctionName"], Runtime="python3.14"
        )
    assert "python3.14" in refused.value.response["Error"]["Message"]
    config = aws.lambda_.get_function_configuration(FunctionName=fn["FunctionName"])
    assert (config["Runtime"], config["State"]) == ("python3.12", "Active"), config
    resp, body = invoke(aws, fn["FunctionName"], {})
    assert "FunctionError" not in resp, body


def test_runtime_aws_does_not_know_keeps_aws_error(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    with pytest.raises(aws.lambda_.exceptions.InvalidParameterValueException) as refused:
        lambda_create_function({"app.py": APP}, runtime="python9.9")
    assert "failed to satisfy constraint" in refused.value.response["Error"]["Message"]
