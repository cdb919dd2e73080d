"""Getting a sandbox for a test session: reuse one, start the embedded one, or a container.

Several pytest-xdist workers may ask at once, so the decision is taken under a file lock
in the state folder. A sandbox that *this* test run started is recorded in
``started-by-pytest`` and stopped by the controller process at the very end, after every
worker has finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eda_sandbox.config import IAM_PATH, Settings
from eda_sandbox.emulator import launcher
from eda_sandbox.errors import SandboxError, SandboxStartError, TopologyApplyError

MODES = ("auto", "embedded", "external", "docker", "aws")
MARKER = "started-by-pytest"
RUN_ID_VARIABLE = "EDA_SANDBOX_TEST_RUN"


@dataclass(frozen=True)
class Sandbox:
    """What a test needs to reach the sandbox."""

    mode: str
    endpoint_url: str | None  # None: a real AWS account through the default credential chain
    region: str
    settings: Settings


@contextlib.contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (settings.state_dir / "pytest.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def acquire(mode: str, settings: Settings) -> Sandbox:
    """Return a ready sandbox for ``mode``; raise (never skip) if there can be none."""
    if mode not in MODES:
        raise SandboxStartError(f"--sandbox={mode!r}: choose one of {', '.join(MODES)}")
    if mode == "aws":
        return Sandbox("aws", None, settings.region, settings)
    if mode == "docker":
        if launcher.health(settings) is not None:
            # `make up SANDBOX=docker` already runs one (docker compose): use it.
            return Sandbox("docker", settings.endpoint_url, settings.region, settings)
        return _docker(settings)
    with _locked(settings):
        if launcher.health(settings) is not None:
            if mode == "embedded" and launcher.status(settings).pid is None:
                raise SandboxStartError(
                    f"--sandbox=embedded, but a sandbox not started here answers at "
                    f"{settings.endpoint_url}; use --sandbox=external or stop it"
                )
            return Sandbox("external", settings.endpoint_url, settings.region, settings)
        if mode == "external":
            raise SandboxStartError(
                f"--sandbox=external, but nothing answers at {settings.endpoint_url} "
                "(AWS_ENDPOINT_URL); start it with `make up`"
            )
        launcher.start(settings)
        (settings.state_dir / MARKER).write_text(os.environ.get(RUN_ID_VARIABLE, ""))
        return Sandbox("embedded", settings.endpoint_url, settings.region, settings)


def enforces_iam(sandbox: Sandbox) -> bool:
    """Whether ``sandbox`` checks functions' calls against their roles' policies: what its
    ``/_eda-sandbox/iam`` says (a real account always does; a sandbox without the
    endpoint does not)."""
    if sandbox.endpoint_url is None:
        return True
    url = f"{sandbox.endpoint_url}{IAM_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own endpoint
            return bool(json.loads(answer.read()).get("enforce"))
    except (OSError, ValueError):
        return False


def _docker(settings: Settings) -> Sandbox:
    try:
        from eda_sandbox.emulator.docker import DockerSandbox
    except ImportError as e:
        raise SandboxStartError(f"--sandbox=docker needs eda_sandbox.emulator.docker: {e}") from e
    container = DockerSandbox(settings)
    endpoint: str = container.start()
    _DOCKER.append(container)
    return Sandbox("docker", endpoint, settings.region, replace(settings, endpoint_url=endpoint))


_DOCKER: list[Any] = []


def claim_run() -> bool:
    """Called by every session at configure time; True for the outermost one only.

    xdist workers inherit the variable from their controller, and a session nested in a
    test (pytester) sees the outer one's, so only the session that owns the run may stop
    what the run started.
    """
    if os.environ.get(RUN_ID_VARIABLE):
        return False
    os.environ[RUN_ID_VARIABLE] = uuid.uuid4().hex
    return True


def release_all(settings: Settings) -> None:
    """Called once, by the session that owns the run, at its end."""
    for container in _DOCKER:
        container.stop()
    _DOCKER.clear()
    marker = settings.state_dir / MARKER
    try:
        started_by = marker.read_text().strip()
    except OSError:
        return
    if started_by and started_by == os.environ.get(RUN_ID_VARIABLE):
        launcher.stop(settings)
        marker.unlink(missing_ok=True)


def apply_topology(sandbox: Sandbox, topology_file: Path) -> dict[str, Any]:
    """Apply the project's topology (idempotent; a no-change apply is well under a second)
    and return its outputs. Runs the same command as ``make bootstrap``."""
    settings = sandbox.settings
    env = dict(os.environ)
    env["EDA_SANDBOX_STATE_DIR"] = str(settings.state_dir)
    if sandbox.endpoint_url:
        env["AWS_ENDPOINT_URL"] = sandbox.endpoint_url
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    cmd = [sys.executable, "-m", "eda_sandbox.topology", "apply", "--file", str(topology_file)]
    with _locked(settings):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise TopologyApplyError(
            f"applying {topology_file} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    try:
        outputs: dict[str, Any] = json.loads(settings.outputs_file.read_text())
    except (OSError, ValueError) as e:
        raise TopologyApplyError(f"no readable outputs at {settings.outputs_file}: {e}") from e
    return outputs


__all__ = [
    "MODES",
    "Sandbox",
    "SandboxError",
    "acquire",
    "apply_topology",
    "enforces_iam",
    "release_all",
]
