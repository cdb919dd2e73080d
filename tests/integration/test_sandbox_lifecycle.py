"""Start, reuse and stop a private sandbox (own port and state): nothing may be left behind,
and no credential of the host's shell reaches LocalStack, its processes or a function."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from eda_sandbox.config import load_settings

APP = """import os, time
def handler(event, context):
    if event.get("env"):
        return dict(os.environ)
    print("callback-mode", context.aws_request_id)
    if event.get("fail"):
        raise KeyError("missing")
    time.sleep(event.get("s", 0))
    return 1
"""


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eda_sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline or text in environ:
            found.append(f"{proc.name}: {cmdline[:150]}")
    return found


def _free_port() -> int:
    # Chosen per run: a fixed port collides with another checkout's suite on this machine.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@pytest.fixture
def host_secret() -> str:
    return f"host-secret-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def private_env(tmp_path: Path, host_secret: str) -> Iterator[dict[str, str]]:
    state = tmp_path / "state"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "EDA_SANDBOX_PORT": str(_free_port()),
        "EDA_SANDBOX_STATE_DIR": str(state),
        "EDA_SANDBOX_RUNTIMES_DIR": str(load_settings().runtimes_dir),
        # Whatever the sandbox writes to the home folder stays behind after down.
        "HOME": str(home),
        # A user's real credentials and profiles, which must reach nothing.
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": host_secret,
        "AWS_SESSION_TOKEN": host_secret,
        "AWS_PROFILE": host_secret,
        "AWS_CONFIG_FILE": str(tmp_path / f"{host_secret}-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / f"{host_secret}-credentials"),
        # The shared sandbox runs the default (direct) result mode; this one runs
        # LocalStack's callback protocol, so CI covers both.
        "EDA_SANDBOX_LAMBDA_RESULTS": "callback",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    yield env
    _cli(env, "down")  # whatever happened in the test


def test_up_is_idempotent_and_down_leaves_no_process(
    private_env: dict[str, str], host_secret: str
) -> None:
    port = int(private_env["EDA_SANDBOX_PORT"])
    first = _cli(private_env, "up")
    assert first.returncode == 0, first.stderr
    state = private_env["EDA_SANDBOX_STATE_DIR"]
    pid = Path(state, "localstack.pid").read_text().strip()

    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"  # LISTEN
    ]
    assert listening == [f"0100007F:{port:04X}"], f"not loopback-only: {listening}"

    again = _cli(private_env, "up")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    assert Path(state, "localstack.pid").read_text().strip() == pid

    lam = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", APP)
    lam.create_function(
        FunctionName="lifecycle",
        Runtime="python3.12",
        Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/x",
        Code={"ZipFile": buf.getvalue()},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="lifecycle")
    ok = lam.invoke(FunctionName="lifecycle", Payload=b"{}", LogType="Tail")
    assert (ok["StatusCode"], ok["Payload"].read()) == (200, b"1")
    tail = base64.b64decode(ok["LogResult"]).decode()
    assert "callback-mode" in tail and "REPORT RequestId" in tail, tail
    seen = json.loads(
        lam.invoke(FunctionName="lifecycle", Payload=b'{"env": true}')["Payload"].read()
    )
    assert host_secret not in json.dumps(seen), "a host credential reached the function"
    assert "AWS_PROFILE" not in seen and "AWS_CONFIG_FILE" not in seen
    failed = lam.invoke(FunctionName="lifecycle", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"
    # An invocation still running when the sandbox stops must not survive it either.
    lam.invoke(FunctionName="lifecycle", Payload=b'{"s": 60}', InvocationType="Event")

    records = list(Path(state, "envs").glob("*.json"))
    assert records, "the executor recorded no execution environment"
    pgids = [pg for r in records for pg in json.loads(r.read_text())["pgids"]]
    assert len(_processes_mentioning(state)) >= 3  # LocalStack, an init, a runtime
    # LocalStack, the DynamoDB process, fork servers, inits: none started with it.
    assert _processes_mentioning(host_secret) == []

    down = _cli(private_env, "down")
    assert down.returncode == 0, down.stderr
    left = _processes_mentioning(state)
    assert not left, f"processes left after down: {left}"
    for pgid in pgids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
    assert not list(Path(state, "envs").glob("*.json"))
    assert not Path(state, "localstack.pid").exists()
    # Nothing it created outside the state folder stays: the fork servers' sockets,
    # LocalStack's plugin cache (under HOME unless the state folder holds it).
    key = hashlib.sha256(str(Path(state).resolve()).encode()).hexdigest()[:12]
    assert not list(Path(f"/tmp/eda-sandbox-{os.getuid()}").glob(f"{key}-*"))
    assert not [str(p) for p in Path(private_env["HOME"]).rglob("*")]


def test_up_reports_a_port_taken_by_something_else(private_env: dict[str, str]) -> None:
    import socket
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"services": {}}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Health)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    Thread(target=server.serve_forever, daemon=True).start()
    env = {**private_env, "EDA_SANDBOX_PORT": str(server.server_port)}
    try:
        result = _cli(env, "up")
    finally:
        server.shutdown()
    assert result.returncode == 2
    assert f"something else already answers on http://127.0.0.1:{server.server_port}" in (
        result.stderr.replace("\n", "")
    )
