"""The DynamoDB process: moto behind our HTTP server, with LocalStack's accounts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from eda_sandbox.servers import dynamodb as dynamodb_server
from eda_sandbox.testing import wait_until


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(
        target=dynamodb_server.serve,
        args=(listener, dynamodb_server.DynamoDBApp(), stop),
        daemon=True,
    )
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    listener.close()


def _client(endpoint: str, key: str = "test") -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id=key,
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )


def _table(client: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_items_round_trip_and_updates_apply(endpoint: str) -> None:
    ddb = _client(endpoint)
    table = _table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="ADD n :one SET s = :s",
        ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": "x"}},
    )
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]
    assert item == {"pk": {"S": "a"}, "n": {"N": "2"}, "s": {"S": "x"}}


def test_answers_carry_dynamodbs_content_type(endpoint: str) -> None:
    ddb = _client(endpoint)
    headers = ddb.list_tables()["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert "x-amzn-requestid" in headers


def test_errors_keep_dynamodb_codes(endpoint: str) -> None:
    ddb = _client(endpoint)
    table = _table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    with pytest.raises(ClientError) as failed:
        ddb.put_item(
            TableName=table,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as missing:
        ddb.get_item(TableName="no-such-table", Key={"pk": {"S": "a"}})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_accounts_are_localstacks(endpoint: str) -> None:
    default = _client(endpoint, key="test")
    other = _client(endpoint, key="111122223333")
    table = _table(other)

    arn = other.describe_table(TableName=table)["Table"]["TableArn"]
    assert arn.startswith("arn:aws:dynamodb:eu-west-1:111122223333:table/")
    assert table not in default.list_tables()["TableNames"]
    assert dynamodb_server.account_of("") == "000000000000"


def test_concurrent_conditional_writes_let_exactly_one_win(endpoint: str) -> None:
    table = _table(_client(endpoint))
    results: list[str] = []

    def claim(worker: int) -> None:
        ddb = _client(endpoint)
        try:
            ddb.put_item(
                TableName=table,
                Item={"pk": {"S": "once"}, "by": {"N": str(worker)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            results.append("won")
        except ClientError:
            results.append("lost")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]


def _spawn(parent: int) -> tuple[subprocess.Popen[bytes], str]:
    listener = socket.create_server(("127.0.0.1", 0))
    env = dict(
        os.environ,
        EDA_DYNAMODB_FD=str(listener.fileno()),
        EDA_DYNAMODB_PARENT_PID=str(parent),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "eda_sandbox.servers.dynamodb"],
        env=env,
        pass_fds=(listener.fileno(),),
    )
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    return proc, url


def test_the_process_serves_the_socket_it_was_given() -> None:
    proc, url = _spawn(os.getpid())
    try:
        ddb = _client(url)
        assert _table(ddb) in ddb.list_tables()["TableNames"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_the_process_exits_when_its_parent_is_gone() -> None:
    proc, _ = _spawn(parent=2**22 + 7)  # not our pid: the process finds itself orphaned
    try:
        # A bound, not a sleep: on a loaded 2-core host the process's imports alone
        # (moto) took over 10 s before it could look for its parent.
        wait_until(
            lambda: proc.poll() is not None,
            timeout=45,
            description="the DynamoDB process to exit without its parent",
        )
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_dead_dynamodb_process_is_reported_with_its_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import requests
    from localstack.aws.api import CommonServiceException

    from eda_sandbox.emulator import providers

    class Dead:
        def poll(self) -> int:
            return -9

    class Refusing:
        def forward(self, _context: Any) -> Any:
            raise requests.exceptions.ConnectionError("connection refused")

    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(providers, "_server", Dead())
    with pytest.raises(CommonServiceException) as failed:
        providers._forwarder(Refusing())(object(), None)

    assert failed.value.code == "InternalFailure"
    assert failed.value.status_code == 500
    assert "exited with status -9" in failed.value.message
    assert str(tmp_path / "dynamodb.log") in failed.value.message
