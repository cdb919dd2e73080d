"""Killing the sandbox's own processes (a private sandbox: own port and state folder).

AWS has no equivalent of killing the emulator; the checks say what the sandbox must do
instead: after SIGKILL of LocalStack, nothing it started keeps running and ``up --apply``
brings back a working sandbox with the topology; after SIGKILL of the DynamoDB process,
DynamoDB requests fail loudly, naming the process and its log, instead of hanging.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import psutil
import pytest
from botocore.exceptions import ClientError

from eda_sandbox.config import load_settings
from eda_sandbox.testing import wait_until

TOPOLOGY = """version: 1
project: fault-check
tables:
  Items: {partition_key: {name: id, type: S}}
queues:
  Work: {}
"""


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eda_sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _of_state(state: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if state in " ".join(p.cmdline()) or p.environ().get("EDA_SANDBOX_STATE_DIR") == state:
                found.append(p)
        except psutil.Error:
            continue
    return found


def _dead(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def private(tmp_path: Path) -> Iterator[dict[str, str]]:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    (tmp_path / "topology.yaml").write_text(TOPOLOGY)
    env = {
        **os.environ,
        "EDA_SANDBOX_PORT": str(port),
        "EDA_SANDBOX_STATE_DIR": str(tmp_path / "state"),
        "EDA_SANDBOX_RUNTIMES_DIR": str(load_settings().runtimes_dir),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "TOPOLOGY": str(tmp_path / "topology.yaml"),
    }
    yield env
    _cli(env, "down")


def _ddb(env: dict[str, str]) -> object:
    return boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_sigkill_of_dynamodb_fails_loudly_and_of_localstack_recovers_with_up(
    private: dict[str, str],
) -> None:
    up = _cli(private, "up", "--apply", private["TOPOLOGY"])
    assert up.returncode == 0, up.stderr
    state = private["EDA_SANDBOX_STATE_DIR"]
    pid = int(Path(state, "localstack.pid").read_text().split()[0])
    ddb = _ddb(private)
    assert any("Items" in t for t in ddb.list_tables()["TableNames"])  # type: ignore[attr-defined]

    (dynamodb,) = [
        p for p in psutil.Process(pid).children() if "servers.dynamodb" in " ".join(p.cmdline())
    ]
    dynamodb.send_signal(signal.SIGKILL)
    # Not our child: gone or a zombie LocalStack has not reaped yet.
    wait_until(lambda: _dead(dynamodb), timeout=5, description="the DynamoDB process to die")
    with pytest.raises(ClientError) as caught:
        ddb.list_tables()  # type: ignore[attr-defined]
    message = caught.value.response["Error"]["Message"]
    assert "DynamoDB process exited" in message
    assert "dynamodb.log" in message

    os.kill(pid, signal.SIGKILL)
    # Everything LocalStack started notices its parent is gone and exits by itself.
    wait_until(
        lambda: not _of_state(state),
        timeout=15,
        description="no process of the killed sandbox left",
        describe_last=lambda _: str([p.cmdline()[:3] for p in _of_state(state)]),
    )
    again = _cli(private, "up", "--apply", private["TOPOLOGY"])
    assert again.returncode == 0, again.stderr
    ddb = _ddb(private)
    assert any("Items" in t for t in ddb.list_tables()["TableNames"])  # type: ignore[attr-defined]
