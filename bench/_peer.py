"""MiniStack, the peer the pipeline is measured against: pinned install, loopback start, stop.

MiniStack has no per-runtime environments: it runs every Python function under its own
interpreter. So its virtual environment is made with the interpreter of the reference
consumer's runtime (``order_consumer`` is python3.13; its packaged dependencies are
built for it), and boto3, which AWS's Python runtime provides, is installed beside it
(bench/peer-requirements.txt pins everything).

Its defaults are not all a sandbox's: it binds 0.0.0.0 unless ``BIND_HOST`` says
otherwise, opens an IoT mTLS listener on 0.0.0.0:8883 unless ``IOT_MTLS_ENABLED=0``,
and its functions inherit its environment, so an ``AWS_ENDPOINT_URL`` meant for our
sandbox would send the peer's handlers to ours. ``peer_env`` closes all three. It
downloads nothing at start (no Docker socket here, no init scripts); its Lambda
executor is the local one.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _common import REPO

from eda_sandbox.executor.runtimes import find_interpreter

REQUIREMENTS = REPO / "bench" / "peer-requirements.txt"
PYTHON = "3.13"  # the runtime of order_consumer, the function of the sns-sqs path
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "PYENV_ROOT")  # everything else is left out


class PeerError(RuntimeError):
    """Raised when MiniStack cannot be installed, or does not answer after its start."""


def install(root: Path) -> Path:
    """MiniStack's virtual environment under ``root``, made or updated when the pins change."""
    pins = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    stamp = root / f".installed-{pins}"
    python = root / "bin" / "python"
    if stamp.is_file():
        return root
    interpreter = find_interpreter(PYTHON)
    if interpreter is None:
        raise PeerError(f"MiniStack needs Python {PYTHON} (the consumer's runtime): not found")
    if not python.is_file():
        _run([str(interpreter), "-m", "venv", str(root)], root)
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "-r", str(REQUIREMENTS)], root)  # fmt: skip
    for old in root.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return root


def _run(cmd: list[str], root: Path) -> None:
    # pip's warnings about unreachable index locations would drown the benchmark's output.
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PeerError(f"installing MiniStack into {root} failed: {done.stderr[-2000:]}")


def peer_env(port: int, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT}
    env.update(
        GATEWAY_PORT=str(port),
        BIND_HOST="127.0.0.1",
        MINISTACK_HOST="127.0.0.1",
        IOT_MTLS_ENABLED="0",
        SFTP_ENABLED="0",
        LOG_LEVEL="WARNING",
        TMPDIR=str(state),  # its pid file and temporary code folders
        DOCKER_HOST=f"unix://{state}/no-docker.sock",  # never look for a Docker engine
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",  # any value works on an emulator
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


@dataclass
class Peer:
    """One MiniStack process; ``ready_s`` is its launch to first health answer."""

    process: subprocess.Popen[bytes]
    endpoint: str
    started: float  # time.perf_counter() at launch
    ready_s: float
    log: Path

    def stop(self, timeout: float = 10.0) -> None:
        """Stop MiniStack and every process it started (its own process group)."""
        if self.process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue


def start(root: Path, port: int, timeout: float = 30.0) -> Peer:
    """Start MiniStack from ``root`` on 127.0.0.1:``port`` and wait for its health check."""
    state = root / "state"
    state.mkdir(parents=True, exist_ok=True)
    endpoint = f"http://127.0.0.1:{port}"
    if _healthy(endpoint):
        raise PeerError(f"something already answers on {endpoint}: not starting a peer there")
    log = state / f"ministack-{port}.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(root / "bin" / "ministack")],
            env=peer_env(port, state),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so stop() reaches its workers too
        )
    peer = Peer(process, endpoint, started, 0.0, log)
    deadline = started + timeout
    while not _healthy(endpoint):
        if process.poll() is not None or time.perf_counter() > deadline:
            peer.stop()
            raise PeerError(f"MiniStack did not answer on {endpoint}; see {log}")
        time.sleep(0.02)
    peer.ready_s = time.perf_counter() - started
    return peer


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
