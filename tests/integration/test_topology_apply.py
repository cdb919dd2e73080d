"""apply / destroy of infra/topology.yaml against a live endpoint.

Target: the running sandbox when it answers (``Settings.endpoint_url``), else moto
(``ThreadedMotoServer`` on a free port when moto's server extras are installed, else
moto in-process). ``EDA_TOPOLOGY_TEST_TARGET=sandbox|moto`` forces one. Each test uses
its own ``--name-suffix`` and owner tag, so nothing collides with the reference
topology that ``make up`` applies, and destroys what it created.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from eda_sandbox.config import load_settings
from eda_sandbox.topology import OWNER_TAG, Engine, load_outputs, load_topology

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "infra" / "topology.yaml"
FUNCTIONS = ("user_signup_handler", "order_consumer", "order_fifo_consumer", "order_placed_handler")
NODE_FUNCTIONS = ("event_logger", "signup_consumer")


def _sandbox_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Target:
    endpoint_url: str | None
    region: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        )


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    settings = load_settings()
    wanted = os.environ.get("EDA_TOPOLOGY_TEST_TARGET", "auto")
    if wanted in ("auto", "sandbox") and _sandbox_answers(settings.health_url):
        yield Target(settings.endpoint_url, settings.region)
        return
    if wanted == "sandbox":
        pytest.fail(f"EDA_TOPOLOGY_TEST_TARGET=sandbox but {settings.health_url} does not answer")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:  # moto without its server extras (flask): patch boto3 instead
            from moto import mock_aws

            with mock_aws():
                yield Target(None, settings.region)
        else:
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            try:
                yield Target(f"http://{host}:{port}", settings.region)
            finally:
                server.stop()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    """Stub handlers without dependencies: these tests are about the topology, not pip."""
    for fn in FUNCTIONS:
        folder = tmp_path / "code" / "handlers" / fn
        folder.mkdir(parents=True)
        (folder / "app.py").write_text(f"def handler(event, context):\n    return {fn!r}\n")
        (folder / "requirements.txt").write_text("")
    layer = tmp_path / "code" / "layers" / "shared" / "python"
    layer.mkdir(parents=True)
    (layer / "shared_stub.py").write_text("VERSION = 1\n")
    for fn in NODE_FUNCTIONS:
        folder = tmp_path / "code" / "handlers" / fn
        folder.mkdir(parents=True)
        (folder / "index.js").write_text(f"exports.handler = async () => {fn!r};\n")
    return tmp_path / "code"


@pytest.fixture
def engine(target: Target, code_root: Path, tmp_path: Path) -> Iterator[Engine]:
    loaded = load_topology(TOPOLOGY, base_dir=code_root)
    with Engine(
        loaded,
        endpoint_url=target.endpoint_url,
        region=target.region,
        name_suffix=f"-t{uuid.uuid4().hex[:6]}",
        build_dir=tmp_path / "build",
        outputs_file=tmp_path / "outputs.json",
    ) as eng:
        try:
            yield eng
        finally:
            eng.destroy()


def test_apply_on_empty_endpoint_creates_everything(engine: Engine, target: Target) -> None:
    result = engine.apply()
    assert result.count("create") == len(result.changes) > 30
    out = load_outputs(engine.outputs_file)
    suffix = engine.suffix
    assert set(out["queues"]) == {
        "EventQueue", "EventQueue-dlq", "EventTopic-lambda-dlq", "OrderQueue.fifo",
        "OrderQueue-dlq.fifo", "OrderPlaced-target-dlq", "user_signup_handler-failures",
        "order_placed_handler-failures", "SignupQueue", "SignupQueue-dlq",
    }  # fmt: skip
    assert out["queues"]["OrderQueue.fifo"]["arn"].endswith(f":OrderQueue{suffix}.fifo")
    assert out["rules"]["OrderPlaced"]["bus"] == "app-bus"

    sqs, sns, lam = target.client("sqs"), target.client("sns"), target.client("lambda")
    attrs = sqs.get_queue_attributes(
        QueueUrl=out["queues"]["EventQueue"]["url"], AttributeNames=["All"]
    )["Attributes"]
    assert (
        json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]
        == (out["queues"]["EventQueue-dlq"]["arn"])
    )
    assert int(attrs["VisibilityTimeout"]) >= 60
    tags = sqs.list_queue_tags(QueueUrl=out["queues"]["EventQueue"]["url"])["Tags"]
    assert tags[OWNER_TAG] == engine.names.owner

    subs = sns.list_subscriptions_by_topic(TopicArn=out["topics"]["EventTopic"]["arn"])
    by_endpoint = {s["Endpoint"]: s["SubscriptionArn"] for s in subs["Subscriptions"]}
    event_queue = by_endpoint[out["queues"]["EventQueue"]["arn"]]
    sqs_sub = sns.get_subscription_attributes(SubscriptionArn=event_queue)["Attributes"]
    assert sqs_sub["RawMessageDelivery"] == "true"
    assert json.loads(sqs_sub["FilterPolicy"]) == {"event_type": ["order_placed"]}

    layer = out["layers"]["shared"]["arn"]
    assert layer.startswith(f"arn:aws:lambda:{target.region}:")
    assert layer.endswith(f":layer:shared{suffix}:1")
    for fn in FUNCTIONS + NODE_FUNCTIONS:
        got = lam.get_function(FunctionName=out["functions"][fn]["name"])
        assert got["Configuration"]["State"] == "Active"
        assert got["Tags"][OWNER_TAG] == engine.names.owner
        layers = [x["Arn"] for x in got["Configuration"].get("Layers", [])]
        assert layers == ([layer] if fn in FUNCTIONS else [])
    env = lam.get_function_configuration(FunctionName=out["functions"]["order_consumer"]["name"])
    assert env["Environment"]["Variables"]["ORDERS_TABLE"] == out["tables"]["Orders"]["name"]
    mappings = lam.list_event_source_mappings(
        FunctionName=out["functions"]["order_consumer"]["name"]
    )["EventSourceMappings"]
    assert [m["EventSourceArn"] for m in mappings] == [out["queues"]["EventQueue"]["arn"]]


def test_second_apply_changes_nothing(engine: Engine) -> None:
    engine.apply()
    again = engine.apply()
    assert [(c.resource.kind, c.resource.name, c.details) for c in again.changes if c.details] == []
    assert again.changed == 0


def test_drift_is_repaired(engine: Engine, target: Target) -> None:
    engine.apply()
    out = load_outputs(engine.outputs_file)
    sns, sqs = target.client("sns"), target.client("sqs")
    topic = out["topics"]["EventTopic"]["arn"]
    sub = next(
        s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        if s["Protocol"] == "sqs"
    )
    sns.unsubscribe(SubscriptionArn=sub)
    url = out["queues"]["EventQueue"]["url"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})

    repaired = engine.apply()
    changed = {
        (c.resource.kind, c.resource.logical): c.details for c in repaired.changes if c.details
    }
    assert set(changed) == {("subscriptions", "EventTopic"), ("queue", "EventQueue")}
    assert changed[("subscriptions", "EventTopic")] == ["+sqs:EventQueue"]
    # moto also drops the queue policy on SetQueueAttributes; that is repaired too.
    assert "VisibilityTimeout" in changed[("queue", "EventQueue")]
    protocols = [
        s["Protocol"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    ]
    assert sorted(protocols) == ["lambda", "lambda", "sqs", "sqs"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"
    ]["VisibilityTimeout"] == str(
        load_topology(TOPOLOGY).topology.queues["EventQueue"].visibility_timeout
    )
    assert engine.apply().changed == 0


def test_changed_function_is_reuploaded_and_unchanged_one_is_not(
    engine: Engine, target: Target, code_root: Path
) -> None:
    engine.apply()
    lam = target.client("lambda")
    name = engine.names.function
    before = {fn: lam.get_function(FunctionName=name(fn))["Configuration"] for fn in FUNCTIONS}
    (code_root / "handlers" / "order_consumer" / "app.py").write_text(
        "def handler(event, context):\n    return 'v2'\n"
    )
    result = engine.apply()
    changed = {
        (c.resource.kind, c.resource.logical): c.details for c in result.changes if c.details
    }
    assert changed == {("function", "order_consumer"): ["code"]}
    after = {fn: lam.get_function(FunctionName=name(fn))["Configuration"] for fn in FUNCTIONS}
    assert after["order_consumer"]["CodeSha256"] != before["order_consumer"]["CodeSha256"]
    for fn in set(FUNCTIONS) - {"order_consumer"}:
        assert after[fn]["CodeSha256"] == before[fn]["CodeSha256"]
        assert after[fn]["LastModified"] == before[fn]["LastModified"]


def test_changed_layer_gets_a_new_version_and_its_functions_follow(
    engine: Engine, target: Target, code_root: Path
) -> None:
    engine.apply()
    first = load_outputs(engine.outputs_file)["layers"]["shared"]["arn"]
    (code_root / "layers" / "shared" / "python" / "shared_stub.py").write_text("VERSION = 2\n")
    result = engine.apply()
    changed = {
        (c.resource.kind, c.resource.logical): c.details for c in result.changes if c.details
    }
    assert changed == {
        ("layer", "shared"): ["content"],
        **{("function", fn): ["Layers"] for fn in FUNCTIONS},
    }
    second = load_outputs(engine.outputs_file)["layers"]["shared"]["arn"]
    assert second.removesuffix(":2") == first.removesuffix(":1")
    lam = target.client("lambda")
    for fn in FUNCTIONS:
        cfg = lam.get_function_configuration(FunctionName=engine.names.function(fn))
        assert [x["Arn"] for x in cfg["Layers"]] == [second]
    assert engine.apply().changed == 0


def _owner_tag(sqs: Any, url: str) -> str | None:
    try:
        return sqs.list_queue_tags(QueueUrl=url).get("Tags", {}).get(OWNER_TAG)
    except sqs.exceptions.QueueDoesNotExist:
        return None  # another test's queue, deleted after the listing: not ours


def test_destroy_removes_what_it_created_and_nothing_else(engine: Engine, target: Target) -> None:
    sqs = target.client("sqs")
    stranger = sqs.create_queue(QueueName=f"Stranger{engine.suffix}")["QueueUrl"]
    engine.apply()
    destroyed = engine.destroy()
    assert destroyed.count("delete") > 25

    leftover = engine.apply(dry_run=True)
    assert {c.action for c in leftover.changes} == {"create"}
    owner = engine.names.owner
    lam, ddb = target.client("lambda"), target.client("dynamodb")
    functions = [
        f for f in lam.list_functions()["Functions"] if f["FunctionName"].endswith(engine.suffix)
    ]
    assert functions == []
    assert [t for t in ddb.list_tables()["TableNames"] if t.endswith(engine.suffix)] == []
    layer = engine.names.layer("shared")
    assert lam.list_layer_versions(LayerName=layer)["LayerVersions"] == []
    urls = sqs.list_queues(QueueNamePrefix="").get("QueueUrls", [])
    ours = [u for u in urls if _owner_tag(sqs, u) == owner]
    assert ours == []
    assert stranger in urls  # not declared, not tagged: not ours to delete
    sqs.delete_queue(QueueUrl=stranger)
