"""Shared helpers for the end-to-end suites (test_<source>_to_<target>_<behaviour>.py).

Tests get them through the ``e2e`` fixture (no ``from conftest import``: two conftest.py
files share that module name). Every test derives its ids from its own
``correlation_id``, so suites run side by side (pytest-xdist) against the shared queues
and tables, which are never purged.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from eda_sandbox.config import load_settings
from eda_sandbox.executor.limits import Capabilities, capabilities
from eda_sandbox.testing import AwsClients, wait_until
from eda_sandbox.testing.logs import log_events, recent_lines

_DESERIALIZE = TypeDeserializer().deserialize


class E2E:
    def __init__(self, aws: AwsClients, topology: dict[str, Any]) -> None:
        self.aws = aws
        self.topology = topology

    # -- names from the applied topology -------------------------------------------------
    def queue_url(self, name: str) -> str:
        return str(self.topology["queues"][name]["url"])

    def topic_arn(self, name: str) -> str:
        return str(self.topology["topics"][name]["arn"])

    def table(self, name: str) -> str:
        return str(self.topology["tables"][name]["name"])

    def function(self, name: str) -> str:
        return str(self.topology["functions"][name]["name"])

    # -- events --------------------------------------------------------------------------
    @staticmethod
    def order(correlation_id: str, n: int = 0, **fields: Any) -> dict[str, Any]:
        """A valid order_placed event whose ids all derive from ``correlation_id``."""
        event: dict[str, Any] = {
            "event_type": "order_placed",
            "event_id": f"{correlation_id}-evt-{n}",
            "correlation_id": correlation_id,
            "order_id": f"{correlation_id}-order-{n}",
            "customer_id": f"{correlation_id}-cust",
            "sku": "SKU-1",
            "quantity": 1,
            "amount": 10,
        }
        event.update(fields)
        return event

    @staticmethod
    def signup(correlation_id: str, **fields: Any) -> dict[str, Any]:
        """A valid user_signup event whose ids derive from ``correlation_id``."""
        event: dict[str, Any] = {
            "event_type": "user_signup",
            "event_id": f"{correlation_id}-evt",
            "correlation_id": correlation_id,
            "user_id": f"{correlation_id}-user",
            "email": f"{correlation_id}@example.com",
            "name": "Ann Example",
        }
        event.update(fields)
        return event

    def send_raw(self, queue: str, body: str, attributes: dict[str, str]) -> str:
        """Send ``body`` straight to a queue with String attributes, as SNS raw delivery
        would; returns the SQS message id."""
        response = self.aws.sqs.send_message(
            QueueUrl=self.queue_url(queue),
            MessageBody=body,
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            },
        )
        return str(response["MessageId"])

    # -- DynamoDB ------------------------------------------------------------------------
    def get_item(self, table: str, key: dict[str, str]) -> dict[str, Any] | None:
        """An item of the logical ``table`` as plain Python values (consistent read)."""
        raw = self.aws.client("dynamodb").get_item(
            TableName=self.table(table),
            Key={k: {"S": v} for k, v in key.items()},
            ConsistentRead=True,
        )
        item = raw.get("Item")
        return {k: _DESERIALIZE(v) for k, v in item.items()} if item else None

    def wait_for_item(
        self,
        table: str,
        key: dict[str, str],
        *,
        timeout: float = 15.0,
        ready: Callable[[dict[str, Any]], bool] = lambda _item: True,
    ) -> dict[str, Any]:
        """Wait until ``table`` holds ``key``, completely written, and ``ready(item)``.

        "Completely written" means write_count is there: every handler write ends with
        ``ADD write_count 1``, and the sandbox's DynamoDB (moto) applies an UpdateItem in
        steps a concurrent read can see (key only, then SET, then ADD); real DynamoDB
        never shows a partial item, so this only waits out the sandbox.
        """
        last: list[dict[str, Any] | None] = [None]

        def probe() -> dict[str, Any] | None:
            last[0] = self.get_item(table, key)
            item = last[0]
            return item if item is not None and "write_count" in item and ready(item) else None

        return wait_until(
            probe,
            timeout=timeout,
            description=f"item {key} in {table}",
            describe_last=lambda _v: f"item now: {last[0]!r}",
        )

    def wait_for_items(
        self, table: str, key_name: str, keys: Iterable[str], *, timeout: float = 20.0
    ) -> dict[str, dict[str, Any]]:
        """Wait until every key is in ``table``, completely written (see wait_for_item),
        with one BatchGetItem per poll; return the items by key."""
        wanted = list(keys)
        found: dict[str, dict[str, Any]] = {}
        name = self.table(table)

        def probe() -> dict[str, dict[str, Any]] | None:
            missing = [k for k in wanted if k not in found]
            for start in range(0, len(missing), 100):
                resp = self.aws.client("dynamodb").batch_get_item(
                    RequestItems={
                        name: {
                            "Keys": [{key_name: {"S": k}} for k in missing[start : start + 100]],
                            "ConsistentRead": True,
                        }
                    }
                )
                for raw in resp.get("Responses", {}).get(name, []):
                    item = {k: _DESERIALIZE(v) for k, v in raw.items()}
                    if "write_count" in item:  # completely written: see wait_for_item
                        found[item[key_name]] = item
            return found if len(found) == len(wanted) else None

        return wait_until(
            probe,
            timeout=timeout,
            description=f"{len(wanted)} items in {table}",
            describe_last=lambda _v: (
                f"{len(found)} of {len(wanted)} present; missing: "
                f"{[k for k in wanted if k not in found][:10]}"
            ),
        )

    # -- CloudWatch Logs -----------------------------------------------------------------
    def log_records(self, function: str, text: str) -> list[dict[str, Any]]:
        """The function's JSON (Powertools) log records whose line contains ``text``."""
        group = f"/aws/lambda/{self.function(function)}"
        events = log_events(self.aws.client("logs"), group, f'"{text}"')
        records = []
        for event in events:
            line = event["message"]
            if text not in line or "{" not in line:
                continue
            try:
                value = json.loads(line[line.find("{") :])
            except ValueError:
                continue
            if isinstance(value, dict):
                records.append(value)
        return records

    def wait_for_log_record(
        self,
        function: str,
        text: str,
        match: Callable[[dict[str, Any]], bool] = lambda _r: True,
        *,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """The first JSON log record of ``function`` containing ``text`` that ``match``
        accepts; on timeout the error shows the function's most recent lines."""

        def probe() -> dict[str, Any] | None:
            return next((r for r in self.log_records(function, text) if match(r)), None)

        group = f"/aws/lambda/{self.function(function)}"
        try:
            return wait_until(probe, timeout=timeout, description=f"{text!r} record in {group}")
        except AssertionError as e:
            recent = "\n  ".join(recent_lines(self.aws.client("logs"), group))
            raise AssertionError(f"{e}\nmost recent lines of {group}:\n  {recent}") from e

    # -- SQS -----------------------------------------------------------------------------
    def dlq_timeout(self, source_queue: str) -> float:
        """Upper bound for a failing message to reach ``source_queue``'s DLQ.

        SQS moves it on the receive after the maxReceiveCount-th, and a record that an
        event source mapping reports failed becomes visible again only when the visibility
        timeout it was received with runs out (neither AWS nor LocalStack resets it). So
        the bound is read from the queue as configured: per receive, the visibility
        timeout plus the mapping's poll delay (LocalStack backs an idle poller off up to
        10 s +50 % jitter, plus a 1 s long poll), then slack for the last move.
        """
        attributes = self.aws.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(source_queue),
            AttributeNames=["RedrivePolicy", "VisibilityTimeout"],
        )["Attributes"]
        receives = int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])
        return receives * (int(attributes["VisibilityTimeout"]) + 16.0) + 16.0


@pytest.fixture
def e2e(aws: AwsClients, topology: dict[str, Any]) -> E2E:
    return E2E(aws, topology)


@pytest.fixture(scope="session")
def execution_caps() -> Capabilities:
    """What the embedded sandbox's executor can do on this machine (the same probe)."""
    return capabilities(load_settings().state_dir)


def zipped(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def publish_layer(aws: AwsClients) -> Iterator[Callable[[dict[str, str]], str]]:
    """Publish a layer version from {path: text} (python3.12); deleted afterwards."""
    published: list[tuple[str, int]] = []

    def publish(files: dict[str, str]) -> str:
        name = f"test-layer-{uuid.uuid4().hex[:8]}"
        out = aws.lambda_.publish_layer_version(
            LayerName=name, Content={"ZipFile": zipped(files)}, CompatibleRuntimes=["python3.12"]
        )
        published.append((name, out["Version"]))
        return str(out["LayerVersionArn"])

    yield publish
    for name, version in published:
        aws.lambda_.delete_layer_version(LayerName=name, VersionNumber=version)
