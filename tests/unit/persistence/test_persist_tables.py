"""The DynamoDB process with EDA_SANDBOX_PERSIST=1: its tables survive a stop and a
SIGKILL (all but the last second), and a corrupt snapshot stops it with the file's name."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from eda_sandbox.persistence.tables import FLUSH_INTERVAL
from eda_sandbox.testing import wait_until


class Process:
    def __init__(self, state: Path) -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        ready_read, ready_write = os.pipe()
        env = {
            **os.environ,
            "EDA_DYNAMODB_FD": str(listener.fileno()),
            "EDA_DYNAMODB_PARENT_PID": str(os.getpid()),
            "EDA_DYNAMODB_READY_FD": str(ready_write),
            "EDA_SANDBOX_STATE_DIR": str(state),
            "EDA_SANDBOX_PERSIST": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "eda_sandbox.servers.dynamodb"],
            env=env,
            pass_fds=(listener.fileno(), ready_write),
            stderr=subprocess.PIPE,
        )
        os.close(ready_write)
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        listener.close()
        # Bounded: a process that never answers is a failure, not a hang.
        readable, _, _ = select.select([ready_read], [], [], 30)
        with os.fdopen(ready_read) as ready:
            self.answer = ready.read() if readable else "(no answer in 30 s)"

    def client(self) -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )

    def end(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=15)


def _put(ddb: Any, table: str, item_id: str) -> None:
    ddb.put_item(TableName=table, Item={"id": {"S": item_id}, "n": {"N": "1"}})


def _create(ddb: Any) -> None:
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_tables_and_items_survive_a_stop(tmp_path: Path) -> None:
    first = Process(tmp_path)
    assert first.answer == "ready", first.answer
    ddb = first.client()
    _create(ddb)
    _put(ddb, "orders", "o-1")
    ddb.update_item(
        TableName="orders",
        Key={"id": {"S": "o-1"}},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    first.end(signal.SIGTERM)  # the final save, without waiting for a flush

    second = Process(tmp_path)
    try:
        item = second.client().get_item(TableName="orders", Key={"id": {"S": "o-1"}})["Item"]
        assert item == {"id": {"S": "o-1"}, "n": {"N": "2"}}
    finally:
        second.end(signal.SIGTERM)


def test_a_sigkill_loses_at_most_the_last_second(tmp_path: Path) -> None:
    first = Process(tmp_path)
    ddb = first.client()
    _create(ddb)
    _put(ddb, "orders", "early")
    written = time.monotonic()
    # What is under test is elapsed time itself: a write older than one flush interval
    # (plus a save's own time) must be on disk when the process is killed.
    wait_until(
        lambda: time.monotonic() - written > FLUSH_INTERVAL + 0.5,
        timeout=5,
        description="one flush interval to pass",
    )
    first.end(signal.SIGKILL)

    second = Process(tmp_path)
    try:
        got = second.client().get_item(TableName="orders", Key={"id": {"S": "early"}})
        assert got.get("Item", {}).get("id") == {"S": "early"}
    finally:
        second.end(signal.SIGTERM)


def test_a_corrupt_snapshot_stops_the_process_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "persist" / "dynamodb.pickle"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"eda-sandbox-snapshot 1\nnot a pickle")
    broken = Process(tmp_path)
    assert broken.proc.wait(timeout=15) == 1  # exits by itself
    assert str(path) in broken.answer and "cannot be loaded" in broken.answer
    assert path.read_bytes().endswith(b"not a pickle"), "the corrupt file was overwritten"
