"""EDA_SANDBOX_PERSIST=1 on a private sandbox (own port and state folder): ``down`` and
``up`` keep queued messages (attributes, system attributes, receive counts; in-flight
ones visible again), tables and items, and the topology without duplicates; a SIGKILL
of LocalStack and of the DynamoDB process loses at most the last second; a snapshot
that cannot be read stops ``up`` with the file's name."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

from eda_sandbox.config import load_settings
from eda_sandbox.persistence.services import FLUSH_INTERVAL
from eda_sandbox.testing import wait_until

TOPOLOGY = """version: 1
project: persist-check
base_dir: .
tables:
  Seen: {partition_key: {name: id, type: S}}
  Kept: {partition_key: {name: id, type: S}}
queues:
  Work:
    allow_send_from: [{topic: Events}]
  Parked: {}
topics:
  Events:
    subscriptions: [{queue: Work, raw_message_delivery: true}]
buses:
  bus: {}
rules:
  Forward:
    bus: bus
    pattern: {source: [persist.check]}
    targets: [{function: recorder}]
functions:
  recorder:
    runtime: python3.12
    code: recorder
    environment: {TABLE: "${tables.Seen.name}"}
    permissions:
      - actions: [dynamodb:PutItem]
        resources: ["${tables.Seen.arn}"]
    sources: [{queue: Work, batch_size: 1}]
"""

RECORDER = """import os, boto3
TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE"])
def handler(event, context):
    ids = [r["body"] for r in event.get("Records", [])] or [event["detail"]["id"]]
    for i in ids:
        TABLE.put_item(Item={"id": i})
    return {"batchItemFailures": []}
"""


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eda_sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def persisted(tmp_path: Path) -> Iterator[dict[str, str]]:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    (tmp_path / "recorder").mkdir()
    (tmp_path / "recorder" / "app.py").write_text(RECORDER)
    (tmp_path / "topology.yaml").write_text(TOPOLOGY)
    env = {
        **os.environ,
        "EDA_SANDBOX_PORT": str(port),
        "EDA_SANDBOX_STATE_DIR": str(tmp_path / "state"),
        "EDA_SANDBOX_RUNTIMES_DIR": str(load_settings().runtimes_dir),
        "EDA_SANDBOX_PERSIST": "1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TOPOLOGY": str(tmp_path / "topology.yaml"),
    }
    yield env
    _cli(env, "down")


def _client(env: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _up(env: dict[str, str], *extra: str) -> None:
    done = _cli(env, "up", *extra)
    assert done.returncode == 0, done.stderr


def _topology_view(env: dict[str, str]) -> dict[str, Any]:
    """What the topology made, as counts and names a duplicate would change."""
    lam, sns, events, iam = (_client(env, s) for s in ("lambda", "sns", "events", "iam"))
    return {
        "functions": sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]),
        "mappings": len(
            lam.list_event_source_mappings(FunctionName="recorder")["EventSourceMappings"]
        ),
        "subscriptions": len(sns.list_subscriptions()["Subscriptions"]),
        "targets": len(events.list_targets_by_rule(Rule="Forward", EventBusName="bus")["Targets"]),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
    }


def _parked(env: dict[str, str]) -> list[dict[str, Any]]:
    sqs = _client(env, "sqs")
    url = sqs.get_queue_url(QueueName="Parked")["QueueUrl"]
    got: list[dict[str, Any]] = []

    def all_four() -> bool:
        got.extend(
            sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=600,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
        )
        return len(got) >= 4

    wait_until(
        all_four, timeout=10, description="the 4 parked messages", describe_last=lambda _: str(got)
    )
    return sorted(got, key=lambda m: m["Body"])


def test_state_survives_down_and_up_and_a_crash(persisted: dict[str, str]) -> None:
    """One private sandbox through every case: each start costs 10-30 s of both cores."""
    env = persisted
    _up(env, "--apply", env["TOPOLOGY"])
    sqs, ddb = _client(env, "sqs"), _client(env, "dynamodb")
    url = sqs.get_queue_url(QueueName="Parked")["QueueUrl"]
    for body in ("m1", "m2", "m3"):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": f"k-{body}"}},
            MessageSystemAttributes={
                "AWSTraceHeader": {"DataType": "String", "StringValue": f"Root=1-{body}"}
            },
        )
    # m1 is received once and is in flight (600 s) when the sandbox stops.
    first = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600, AttributeNames=["All"]
    )["Messages"][0]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    before = _topology_view(env)
    # Written last, right before `down`: usually within the flush interval, so it is
    # `down`'s own final save that must have them.
    for i in range(20):
        ddb.put_item(TableName="Kept", Item={"id": {"S": f"i-{i}"}, "n": {"N": str(i)}})
    sqs.send_message(QueueUrl=url, MessageBody="m4")

    stopping = time.time()
    down = _cli(env, "down")
    assert down.returncode == 0, down.stderr
    # `down` saved every service once more on its way out, changed or not.
    saved = {
        p.name: p.stat().st_mtime for p in Path(env["EDA_SANDBOX_STATE_DIR"], "persist").iterdir()
    }
    assert sorted(saved) == [f"{s}.pickle" for s in ("dynamodb", "events", "iam", "sns", "sqs")]
    assert all(mtime >= stopping for mtime in saved.values()), (stopping, saved)
    _up(env, "--apply", env["TOPOLOGY"])  # what `make up` does

    after = {m["Body"]: m for m in _parked(env)}
    assert sorted(after) == ["m1", "m2", "m3", "m4"], "a queued message was lost"
    del after["m4"]
    for body, message in after.items():
        assert message["MessageAttributes"] == {
            "kind": {"DataType": "String", "StringValue": f"k-{body}"}
        }
        assert message["Attributes"]["AWSTraceHeader"] == f"Root=1-{body}"
        # The in-flight one is visible again, and its receive count kept counting.
        count = "2" if body == first["Body"] else "1"
        assert message["Attributes"]["ApproximateReceiveCount"] == count, body
    assert (
        after[first["Body"]]["Attributes"]["SentTimestamp"] == first["Attributes"]["SentTimestamp"]
    )
    items = ddb.scan(TableName="Kept")["Items"]
    assert sorted(int(i["n"]["N"]) for i in items) == list(range(20))
    assert _topology_view(env) == before, "the topology changed or doubled across the restart"

    # The re-applied function runs in a fresh environment: SNS -> SQS -> Lambda and
    # EventBridge -> Lambda both reach it after the restart.
    sns, events = _client(env, "sns"), _client(env, "events")
    topic = sns.create_topic(Name="Events")["TopicArn"]  # idempotent: the existing one
    sns.publish(TopicArn=topic, Message="after-restart-sns")
    events.put_events(
        Entries=[
            {
                "EventBusName": "bus",
                "Source": "persist.check",
                "DetailType": "check",
                "Detail": json.dumps({"id": "after-restart-events"}),
            }
        ]
    )
    wait_until(
        lambda: (
            {i["id"]["S"] for i in ddb.scan(TableName="Seen")["Items"]}
            >= {"after-restart-sns", "after-restart-events"}
        ),
        timeout=60,
        description="the recorder to store both events after the restart",
    )

    _sigkill_loses_at_most_the_last_second(env)

    # A snapshot that cannot be read stops `up` at once, naming the file.
    assert _cli(env, "down").returncode == 0
    corrupt = Path(env["EDA_SANDBOX_STATE_DIR"], "persist", "sqs.pickle")
    corrupt.write_bytes(b"eda-sandbox-snapshot 1\nnot a pickle")
    started = time.monotonic()
    failed = _cli(env, "up")
    assert failed.returncode != 0
    # The console wraps long lines; the path itself has no spaces.
    assert str(corrupt) in "".join(failed.stderr.split()), failed.stderr
    assert "could not start sqs" in failed.stderr
    assert time.monotonic() - started < 50, "up waited for its timeout instead of failing"
    forget = _cli(env, "down", "--forget")
    assert forget.returncode == 0, forget.stderr
    assert not corrupt.parent.exists()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _sigkill_loses_at_most_the_last_second(env: dict[str, str]) -> None:
    sqs, ddb = _client(env, "sqs"), _client(env, "dynamodb")
    url = sqs.create_queue(QueueName="crash")["QueueUrl"]
    ddb.create_table(
        TableName="crash",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs.send_message(QueueUrl=url, MessageBody="early")
    ddb.put_item(TableName="crash", Item={"id": {"S": "early"}})
    written = time.monotonic()
    # Elapsed time is what is under test: anything older than one flush interval (plus
    # the time a save takes) must be on disk when the processes die.
    wait_until(
        lambda: time.monotonic() - written > FLUSH_INTERVAL + 0.5,
        timeout=5,
        description="one flush interval to pass",
    )
    pid = int(Path(env["EDA_SANDBOX_STATE_DIR"], "localstack.pid").read_text().split()[0])
    (dynamodb,) = [p for p in _children(pid) if "servers.dynamodb" in " ".join(p.cmdline())]
    # The DynamoDB process first: killed with LocalStack it would save on its way out.
    dynamodb.send_signal(signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie",
        timeout=10,
        description="LocalStack to die",
    )
    _up(env)

    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in got] == ["early"]
    assert ddb.get_item(TableName="crash", Key={"id": {"S": "early"}}).get("Item") == {
        "id": {"S": "early"}
    }
