"""Node.js functions (nodejs20.x, nodejs22.x) through boto3, as AWS documents them: handler
forms, the context object, the environment, the runtime's SDK, dependencies and layers."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from eda_sandbox.testing import AwsClients, wait_for_log

RUNTIMES = ["nodejs20.x", "nodejs22.x", "nodejs24.x"]

CONTEXT_JS = """
exports.handler = async (event, context) => ({
  node: process.versions.node,
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  invokedFunctionArn: context.invokedFunctionArn,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  event,
});
"""


def invoke(aws: AwsClients, name: str, event: Any = None) -> tuple[dict[str, Any], Any, str]:
    """(response, decoded payload, the invocation's log tail)."""
    resp = aws.lambda_.invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail"
    )
    logs = base64.b64decode(resp.get("LogResult", "")).decode()
    return resp, json.loads(resp["Payload"].read() or b"null"), logs


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_async_handler_gets_the_context(
    aws: AwsClients, lambda_create_function: Any, runtime: str
) -> None:
    fn = lambda_create_function(
        {"index.js": CONTEXT_JS}, runtime=runtime, handler="index.handler", MemorySize=256
    )
    assert fn["State"] == "Active", fn
    resp, body, _ = invoke(aws, fn["FunctionName"], {"hello": "node"})
    assert "FunctionError" not in resp, body
    # The runtime's own major version, not the machine's node.
    assert body["node"].split(".")[0] == runtime.removeprefix("nodejs").removesuffix(".x")
    assert body["event"] == {"hello": "node"}
    assert body["awsRequestId"] == resp["ResponseMetadata"]["RequestId"]
    assert body["functionName"] == fn["FunctionName"]
    assert body["functionVersion"] == "$LATEST"
    assert body["memoryLimitInMB"] == "256"
    assert body["invokedFunctionArn"] == fn["FunctionArn"]
    assert body["logGroupName"] == f"/aws/lambda/{fn['FunctionName']}"
    assert body["logStreamName"]
    assert 0 < body["remaining"] <= 10_000
    # Node 24 dropped the callback members of the context, as on AWS.
    assert body.get("waits") is (None if runtime == "nodejs24.x" else True)


def test_nodejs24_refuses_callback_handlers(aws: AwsClients, lambda_create_function: Any) -> None:
    fn = lambda_create_function(
        {"index.js": CALLBACK_JS}, runtime="nodejs24.x", handler="index.waits"
    )
    resp, body, _ = invoke(aws, fn["FunctionName"])
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.CallbackHandlerDeprecated", body
    assert "removed support for callback-based function handlers" in body["errorMessage"]


CALLBACK_JS = """
exports.waits = (event, context, callback) => {
  setTimeout(() => console.log('timer fired'), 200);
  callback(null, { style: 'callback' });
};
exports.nowait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => console.log('late timer fired'), 2000);
  callback(null, { waits: context.callbackWaitsForEmptyEventLoop });
};
exports.sync = (event, context, callback) => { context.succeed({ via: 'succeed' }); };
"""


def test_callback_handler_waits_for_the_empty_event_loop(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    fn = lambda_create_function(
        {"index.js": CALLBACK_JS}, runtime="nodejs22.x", handler="index.waits"
    )
    resp, body, logs = invoke(aws, fn["FunctionName"])
    assert body == {"style": "callback"}, body
    # The response went out only after the pending timer ran, within this invocation.
    assert logs.index("timer fired") < logs.index("END RequestId")
    assert "callback-based function handlers" in logs  # AWS's deprecation warning


@pytest.mark.parametrize("handler", ["index.nowait", "index.sync"])
def test_callback_handler_without_waiting(
    aws: AwsClients, lambda_create_function: Any, handler: str
) -> None:
    fn = lambda_create_function({"index.js": CALLBACK_JS}, runtime="nodejs20.x", handler=handler)
    resp, body, logs = invoke(aws, fn["FunctionName"])
    assert "FunctionError" not in resp, body
    assert body in ({"waits": False}, {"via": "succeed"})
    assert "late timer fired" not in logs


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        ({"index.mjs": "export const handler = async () => ({ form: 'mjs' });"}, "index.handler"),
        (
            {
                "package.json": '{"type": "module"}',
                "src/app.js": "export const handler = async () => ({ form: 'type-module' });",
            },
            "src/app.handler",
        ),
        (
            {"src/app.js": "exports.handler = async () => ({ form: 'nested-cjs' });"},
            "src/app.handler",
        ),
    ],
    ids=["index.mjs", "type-module-nested", "nested-cjs"],
)
def test_handler_forms(
    aws: AwsClients, lambda_create_function: Any, files: dict[str, str], handler: str
) -> None:
    fn = lambda_create_function(files, runtime="nodejs22.x", handler=handler)
    resp, body, _ = invoke(aws, fn["FunctionName"])
    assert "FunctionError" not in resp, body
    assert body["form"] in ("mjs", "type-module", "nested-cjs")


CONSOLE_JS = """
exports.handler = async (event) => {
  console.log('log', event.marker);
  console.info('info', { n: 1 });
  console.warn('warn line');
  console.error('error\\nsecond line');
  return 'ok';
};
"""


def test_console_lines_are_in_aws_node_format(
    aws: AwsClients, lambda_create_function: Any, correlation_id: str
) -> None:
    fn = lambda_create_function(
        {"index.js": CONSOLE_JS}, runtime="nodejs22.x", handler="index.handler"
    )
    resp, _, logs = invoke(aws, fn["FunctionName"], {"marker": correlation_id})
    request_id = resp["ResponseMetadata"]["RequestId"]
    lines = logs.split("\n")  # not splitlines(): a message keeps its \r inside one line
    start = next(
        i for i, line in enumerate(lines) if line.startswith(f"START RequestId: {request_id}")
    )
    end = lines.index(f"END RequestId: {request_id}")
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    expected = [
        ("INFO", f"log {correlation_id}"),
        ("INFO", "info { n: 1 }"),
        ("WARN", "warn line"),
        ("ERROR", "error\rsecond line"),  # one message stays one line, as on AWS
    ]
    body = lines[start + 1 : end]
    assert len(body) == len(expected), logs
    for line, (level, message) in zip(body, expected, strict=True):
        assert re.fullmatch(f"{stamp}\t{request_id}\t{level}\t{re.escape(message)}", line), line
    assert lines[end + 1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    # ... and the same lines reach CloudWatch Logs.
    found = wait_for_log(aws.logs, fn["FunctionName"], f"log {correlation_id}")
    assert found[0].endswith(f"\t{request_id}\tINFO\tlog {correlation_id}")


ENV_JS = """
exports.handler = async (event) => ({
  env: Object.fromEntries(event.names.map((n) => [n, process.env[n] ?? null])),
  preloaded: globalThis.preloaded ?? null,
});
"""


def test_environment_variables_and_user_node_options(
    aws: AwsClients, lambda_create_function: Any
) -> None:
    fn = lambda_create_function(
        {"index.js": ENV_JS, "preload.js": "globalThis.preloaded = 'by NODE_OPTIONS';"},
        runtime="nodejs22.x",
        handler="index.handler",
        MemorySize=512,
        Environment={"Variables": {"NODE_OPTIONS": "--require ./preload.js", "MINE": "x"}},
    )
    names = [
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "_HANDLER",
        "LAMBDA_TASK_ROOT", "NODE_PATH", "AWS_EXECUTION_ENV", "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME", "TZ", "MINE",
    ]  # fmt: skip
    resp, body, _ = invoke(aws, fn["FunctionName"], {"names": names})
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fn["FunctionName"]
    assert env["AWS_REGION"] == aws.region
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["_HANDLER"] == "index.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs22.x"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fn['FunctionName']}"
    assert env["TZ"] == ":UTC"
    assert env["MINE"] == "x"
    node_path = env["NODE_PATH"].split(":")
    assert node_path[-1] == env["LAMBDA_TASK_ROOT"]  # as AWS: ...:/var/runtime:/var/task
    assert any(p.endswith("sdk/node_modules") for p in node_path), node_path
    assert body["preloaded"] == "by NODE_OPTIONS"


SDK_JS = """
const { SQSClient, GetQueueUrlCommand } = require('@aws-sdk/client-sqs');
exports.handler = async (event) => {
  const out = await new SQSClient({}).send(new GetQueueUrlCommand({ QueueName: event.queue }));
  return { url: out.QueueUrl };
};
"""
SDK_MJS = """
import { SQSClient, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
export const handler = async (event) => {
  const out = await new SQSClient({}).send(new GetQueueUrlCommand({ QueueName: event.queue }));
  return { url: out.QueueUrl };
};
"""


@pytest.mark.parametrize(
    ("runtime", "files"),
    [("nodejs20.x", {"index.js": SDK_JS}), ("nodejs22.x", {"index.mjs": SDK_MJS})],
    ids=["require-20", "import-22"],
)
def test_runtime_sdk_needs_no_packaging_and_talks_to_the_sandbox(
    aws: AwsClients,
    lambda_create_function: Any,
    sqs_create_queue: Any,
    runtime: str,
    files: dict[str, str],
) -> None:
    url = sqs_create_queue()
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    fn = lambda_create_function(
        files,
        runtime=runtime,
        handler="index.handler",
        permissions=[{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": queue_arn}],
    )
    resp, body, _ = invoke(aws, fn["FunctionName"], {"queue": url.rsplit("/", 1)[1]})
    assert "FunctionError" not in resp, body
    assert body["url"].rsplit("/", 1)[1] == url.rsplit("/", 1)[1]


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, source in files.items():
            zf.writestr(name, source)
    return buf.getvalue()


DEPS_JS = """
const own = require('own-dep');
const shared = require('layer-dep');
exports.handler = async () => ({ own: own.name, shared: shared.name });
"""
DEPS_MJS = """
import own from 'own-dep';
import shared from 'layer-dep';
export const handler = async () => ({ own: own.name, shared: shared.name });
"""


@pytest.mark.parametrize(
    "files", [{"index.js": DEPS_JS}, {"index.mjs": DEPS_MJS}], ids=["cjs", "esm"]
)
def test_own_node_modules_and_layers_are_on_the_module_path(
    aws: AwsClients, lambda_create_function: Any, files: dict[str, str]
) -> None:
    layer = aws.lambda_.publish_layer_version(
        LayerName=f"node-layer-{abs(hash(str(files))) % 10**8}",
        Content={
            "ZipFile": _zip({"nodejs/node_modules/layer-dep/index.js": "exports.name = 'layer';"})
        },
        CompatibleRuntimes=["nodejs22.x"],
    )
    try:
        own = {"node_modules/own-dep/index.js": "exports.name = 'own';"}
        fn = lambda_create_function(
            {**files, **own},
            runtime="nodejs22.x",
            handler="index.handler",
            Layers=[layer["LayerVersionArn"]],
        )
        resp, body, _ = invoke(aws, fn["FunctionName"])
        assert "FunctionError" not in resp, body
        assert body == {"own": "own", "shared": "layer"}
    finally:
        aws.lambda_.delete_layer_version(
            LayerName=layer["LayerArn"], VersionNumber=layer["Version"]
        )


PARALLEL_JS = """
exports.handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return event.i;
};
"""


def test_ten_parallel_invocations(aws: AwsClients, lambda_create_function: Any) -> None:
    fn = lambda_create_function(
        {"index.js": PARALLEL_JS},
        runtime="nodejs22.x",
        handler="index.handler",
    )
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda i: invoke(aws, fn["FunctionName"], {"i": i}), range(10)))
    assert [body for _, body, _ in results] == list(range(10))
    assert not [resp for resp, _, _ in results if "FunctionError" in resp]
