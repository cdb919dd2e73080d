"""The init process on its own: a fake LocalStack endpoint records what it reports."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from eda_sandbox.config import load_settings
from eda_sandbox.executor import init_process, runtimes, zygotes
from eda_sandbox.testing import wait_until

INIT = Path(init_process.__file__)

APP = """
import os, sys, time
print("loaded")
def handler(event, context):
    print("got", event)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(7)
    if event.get("fail"):
        raise RuntimeError("nope")
    return {"echo": event, "id": context.aws_request_id}
"""


class FakeLocalStack:
    """Records the executor-protocol callbacks: (path, body)."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[str, bytes]] = queue.Queue()
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.put((self.path, body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/_localstack_lambda/env1"

    def next(self, timeout: float = 10.0) -> tuple[str, bytes]:
        return self.calls.get(timeout=timeout)


@pytest.fixture
def runtime_python() -> Path:
    try:
        return runtimes.locate(load_settings().runtimes_dir, "python3.13").python
    except runtimes.RuntimeNotProvisionedError as e:
        pytest.fail(f"{e} (make install builds it)")


@pytest.fixture
def results_mode() -> str:
    return "callback"


@pytest.fixture(params=["exec", "zygote", "forked-init"])
def start_mode(request: pytest.FixtureRequest) -> str:
    """How the init and the runtime start: both exec'd; the runtime forked from its
    zygote; or the init forked from the server of inits, which also execs the runtime."""
    return str(request.param)


def _socket_path(tmp_path: Path, kind: str) -> str:
    sock = f"/tmp/eda-sandbox-{os.getuid()}/unit-{kind}-{tmp_path.name[-20:]}.sock"
    os.makedirs(os.path.dirname(sock), mode=0o700, exist_ok=True)
    return sock


@pytest.fixture
def init_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The fork server of inits (``zygote.py --init``), on this interpreter."""
    from eda_sandbox.executor import zygote

    sock = _socket_path(tmp_path, "init")
    ready = tmp_path / "init.modules"
    command = [sys.executable, "-I", "-S", zygote.__file__, "--init", sock, str(ready)]
    proc = subprocess.Popen(command)
    try:
        wait_until(ready.is_file, timeout=10, description="the init server to preload")
        yield sock, proc
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        Path(sock).unlink(missing_ok=True)  # a terminated server leaves it


@pytest.fixture
def zygote_env(tmp_path: Path, runtime_python: Path, start_mode: str) -> Iterator[dict[str, str]]:
    if start_mode != "zygote":
        yield {}
        return
    from eda_sandbox.executor import zygote

    sock = _socket_path(tmp_path, "zygote")
    modules = tmp_path / "zygote.modules"
    proc = subprocess.Popen([str(runtime_python), "-I", zygote.__file__, sock, str(modules)])
    try:
        wait_until(modules.is_file, timeout=10, description="the zygote to preload")
        yield {"EDA_INIT_ZYGOTE": sock, "EDA_INIT_ZYGOTE_MODULES": str(modules)}
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        Path(sock).unlink(missing_ok=True)


@pytest.fixture
def environment(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    runtime_python: Path,
    results_mode: str,
    zygote_env: dict[str, str],
    start_mode: str,
) -> Iterator[tuple[FakeLocalStack, int]]:
    (tmp_path / "app.py").write_text(APP)
    fake = FakeLocalStack()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    env = {
        "LOCALSTACK_RUNTIME_ID": "env1",
        "LOCALSTACK_RUNTIME_ENDPOINT": fake.url,
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "1",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "_HANDLER": "app.handler",
        "PYTHONPATH": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "EDA_INIT_FD": str(listener.fileno()),
        "EDA_INIT_PYTHON": str(runtime_python),
        "EDA_INIT_TASK_ROOT": str(tmp_path),
        "EDA_INIT_PARENT_PID": str(os.getpid()),
        "EDA_INIT_RECORD": str(tmp_path / "record.json"),
        "EDA_INIT_RESULTS": results_mode,
        **zygote_env,
    }
    proc: subprocess.Popen[bytes] | zygotes.ForkedInit
    if start_mode == "forked-init":
        server, _ = request.getfixturevalue("init_server")
        # ... which also execs the runtime (as for Node.js), with no trampoline.
        env.update({"EDA_INIT_ZYGOTE": server, "EDA_INIT_ZYGOTE_EXEC": "1"})
        with open(tmp_path / "init.log", "ab") as log:
            proc = zygotes.ForkedInit(server, env, str(tmp_path), [listener.fileno(), log.fileno()])
    else:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(INIT)], env=env, pass_fds=(listener.fileno(),)
        )
    listener.close()
    try:
        yield fake, port
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
        fake.server.shutdown()
    record = tmp_path / "record.json"
    assert not record.exists(), "init left its process record behind"


def invoke(port: int, request_id: str, event: dict[str, object]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = json.dumps({"invoke-id": request_id, "payload": json.dumps(event)})
    conn.request("POST", "/invoke", body=body)
    status = conn.getresponse().status
    conn.close()
    return status


def result(fake: FakeLocalStack, request_id: str) -> tuple[str, dict[str, object], str]:
    path, body = fake.next()
    assert path == f"/_localstack_lambda/env1/invocations/{request_id}/logs"
    logs = json.loads(body)["logs"]
    path, body = fake.next()
    kind = path.rsplit("/", 1)[1]
    return kind, json.loads(body), logs


def test_ready_then_response_with_logs(environment: tuple[FakeLocalStack, int]) -> None:
    fake, port = environment
    assert fake.next() == ("/_localstack_lambda/env1/status/env1/ready", b"{}")
    assert invoke(port, "req-1", {"a": 1}) == 202
    kind, body, logs = result(fake, "req-1")
    assert kind == "response"
    assert body == {"echo": {"a": 1}, "id": "req-1"}
    lines = logs.splitlines()
    assert lines[0] == "START RequestId: req-1 Version: $LATEST"
    assert "loaded" in lines  # init-phase output belongs to the first invocation
    assert "got {'a': 1}" in lines
    assert lines[-2] == "END RequestId: req-1"
    assert lines[-1].startswith("REPORT RequestId: req-1\tDuration: ")
    assert "Init Duration" in lines[-1]


def test_error_timeout_and_crash_are_aws_shaped(environment: tuple[FakeLocalStack, int]) -> None:
    fake, port = environment
    fake.next()  # ready
    invoke(port, "req-err", {"fail": True})
    kind, body, _ = result(fake, "req-err")
    assert kind == "error"
    assert body["errorType"] == "RuntimeError"
    assert body["errorMessage"] == "nope"

    invoke(port, "req-slow", {"sleep": 3})
    kind, body, logs = result(fake, "req-slow")
    assert kind == "error"
    assert body == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: req-slow Error: Task timed out after 1.00 seconds",
    }
    assert "req-slow Task timed out after 1.00 seconds" in logs

    invoke(port, "req-exit", {"exit": True})
    kind, body, _ = result(fake, "req-exit")
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == (
        "RequestId: req-exit Error: Runtime exited with error: exit status 7"
    )

    invoke(port, "req-ok", {"b": 2})  # a fresh runtime replaced the dead ones
    kind, body, _ = result(fake, "req-ok")
    assert (kind, body["echo"]) == ("response", {"b": 2})


def test_responses_are_written_in_one_send() -> None:
    writes: list[bytes] = []

    class Wfile:
        def write(self, data: bytes) -> None:
            writes.append(data)

    handler_cls = init_process.make_handler(None)  # type: ignore[arg-type]
    handler = handler_cls.__new__(handler_cls)
    handler.wfile = Wfile()  # type: ignore[assignment]
    handler.reply(200, b'{"ok": true}', {"Content-Type": "application/json"})
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b'Content-Length: 12\r\n\r\n{"ok": true}')


@pytest.mark.parametrize("results_mode", ["direct"])
def test_direct_mode_answers_on_the_invoke_connection(
    environment: tuple[FakeLocalStack, int],
) -> None:
    fake, port = environment
    assert fake.next() == ("/_localstack_lambda/env1/status/env1/ready", b"{}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for request_id, event, error in (("d-1", {"a": 1}, "0"), ("d-2", {"fail": True}, "1")):
        conn.request(
            "POST",
            "/invoke",
            body=json.dumps({"invoke-id": request_id, "payload": json.dumps(event)}),
        )
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200
        assert resp.getheader("X-Eda-Error") == error
        split = int(resp.getheader("X-Eda-Logs-Length") or 0)
        logs, payload = body[:split].decode(), json.loads(body[split:])
        assert logs.startswith(f"START RequestId: {request_id}")
        assert f"END RequestId: {request_id}" in logs
        if error == "0":
            assert payload == {"echo": {"a": 1}, "id": "d-1"}
        else:
            assert payload["errorMessage"] == "nope"
    conn.close()
    assert fake.calls.empty(), "direct mode must not call back for results"


def test_a_function_shipping_another_copy_of_a_preloaded_module_is_not_forked(
    tmp_path: Path,
) -> None:
    from eda_sandbox.executor.zygote_client import fingerprint, shadowed_names

    runtime = tmp_path / "runtime"
    for name, source in (("jmespath", "VERSION = 1"), ("six", "X = 1")):
        (runtime / name).mkdir(parents=True)
        (runtime / name / "__init__.py").write_text(source)
    modules = tmp_path / "modules.json"
    modules.write_text(
        json.dumps(
            {
                "names": ["jmespath", "six", "botocore", "awslambdaric"],
                "fingerprints": {
                    "jmespath": fingerprint(str(runtime / "jmespath")),
                    "six": fingerprint(str(runtime / "six")),
                    "botocore": None,  # too big to compare
                },
            }
        )
    )
    code = tmp_path / "code"
    (code / "jmespath" / "__pycache__").mkdir(parents=True)
    (code / "jmespath" / "__init__.py").write_text("VERSION = 1")  # the same copy
    (code / "jmespath" / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    (code / "six").mkdir()
    (code / "six" / "__init__.py").write_text("X = 2")  # another version
    (code / "app.py").write_text("")
    layer = tmp_path / "layer"
    (layer / "botocore-1.0.dist-info").mkdir(parents=True)  # metadata only
    (layer / "awslambdaric.py").write_text("")  # no fingerprint known

    assert shadowed_names(str(modules), [str(code), str(layer)]) == {"six", "awslambdaric"}
    (layer / "botocore").mkdir()
    assert "botocore" in shadowed_names(str(modules), [str(layer)])
    assert shadowed_names(str(modules), [str(tmp_path / "missing")]) == set()


def test_the_zygote_lists_what_it_preloaded_with_fingerprints(
    tmp_path: Path, runtime_python: Path
) -> None:
    from eda_sandbox.executor import zygote
    from eda_sandbox.executor.zygote_client import shadowed_names

    out = subprocess.run(
        [
            str(runtime_python),
            "-I",
            "-c",
            f"import runpy, json; m = runpy.run_path({zygote.__file__!r}); "
            "print(json.dumps(m['preload']()))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listed = json.loads(out.stdout)
    assert {"boto3", "botocore", "jmespath"} <= set(listed["names"])
    assert listed["fingerprints"]["jmespath"]  # small enough to compare
    assert listed["fingerprints"]["botocore"] is None  # too big
    assert not any(n.startswith("_eda_") or n == "zygote_client" for n in listed["names"])
    # The runtime's own copies, shipped again, are no reason to skip the fork.
    modules = tmp_path / "modules.json"
    modules.write_text(json.dumps(listed))
    site = subprocess.run(
        [
            str(runtime_python),
            "-I",
            "-c",
            "import jmespath, os; print(os.path.dirname(os.path.dirname(jmespath.__file__)))",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    shadowed = shadowed_names(str(modules), [site])
    assert "jmespath" not in shadowed
    assert "boto3" not in shadowed
    assert "botocore" in shadowed  # too big to compare, so any copy counts


def _exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("results_mode", ["direct"])
def test_requests_are_parsed_as_http_1_1(environment: tuple[FakeLocalStack, int]) -> None:
    fake, port = environment
    assert fake.next() == ("/_localstack_lambda/env1/status/env1/ready", b"{}")
    body = json.dumps({"invoke-id": "h-1", "payload": json.dumps({"a": 1})}).encode()
    # Header names in any case, a 100-continue wait (curl's, for larger bodies), and a
    # close after the answer.
    answer = _exchange(
        port,
        b"POST /invoke HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: %d\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n\r\n%s" % (len(body), body),
    )
    interim, _, final = answer.partition(b"\r\n\r\n")
    assert interim == b"HTTP/1.1 100 Continue"
    assert final.startswith(b"HTTP/1.1 200 OK\r\n")
    assert final.endswith(b'{"echo": {"a": 1}, "id": "h-1"}')

    bad = _exchange(port, b"NONSENSE\r\n\r\n")
    assert bad.startswith(b"HTTP/1.1 400 ")
    no_colon = _exchange(port, b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n")
    assert no_colon.startswith(b"HTTP/1.1 400 ")


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its new parent has not reaped yet."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_a_forked_init_follows_its_fork_server_out(
    tmp_path: Path, init_server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    """The init watches its parent, which is the server: when the sandbox goes, the
    server exits, and so does every init it forked (they would be orphans otherwise)."""
    sock, server = init_server
    fake = FakeLocalStack()
    listener = socket.create_server(("127.0.0.1", 0))
    env = {
        "LOCALSTACK_RUNTIME_ID": "env1",
        "LOCALSTACK_RUNTIME_ENDPOINT": fake.url,
        "_HANDLER": "app.handler",
        "EDA_INIT_PYTHON": sys.executable,
        "EDA_INIT_COMMAND": json.dumps([sys.executable, "-c", "import time; time.sleep(60)"]),
        "EDA_INIT_TASK_ROOT": str(tmp_path),
        "EDA_INIT_PARENT_PID": "1",  # replaced by the server's pid in the child
        "EDA_INIT_FD": "999",  # replaced by the socket's number as received
    }
    with open(tmp_path / "init.log", "ab") as log:
        init = zygotes.ForkedInit(sock, env, str(tmp_path), [listener.fileno(), log.fileno()])
    listener.close()
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            init.wait(timeout=0.5)  # it serves (a plain start would have exited at once)
        assert os.getpgid(init.pid) == init.pid  # its own session and group, as Popen's
        server.kill()
        server.wait(timeout=5)
        init.wait(timeout=5)  # its status went with the server; that it ended is the point
        assert _gone(init.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(init.pid, signal.SIGKILL)
        fake.server.shutdown()
