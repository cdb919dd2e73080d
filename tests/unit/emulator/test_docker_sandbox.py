"""DockerSandbox (the --sandbox=docker backend) without a Docker engine: clear errors
instead of skips, and start/timeout/cleanup against a fake container."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from eda_sandbox.config import DEFAULT_SERVICES, load_settings
from eda_sandbox.emulator.docker import DockerSandbox, DockerSandboxError, DockerUnavailableError
from eda_sandbox.errors import SandboxStartError

ROOT = Path(__file__).resolve().parents[3]


# -- src/eda_sandbox/emulator/docker.py without an engine ----------------------------------
def test_docker_sandbox_without_engine_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert issubclass(DockerUnavailableError, SandboxStartError)
    with pytest.raises(DockerSandboxError, match="not an IP address"):
        DockerSandbox(load_settings({}), bind="localhost")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(DockerUnavailableError, match="no Docker engine answers"):
        DockerSandbox(load_settings({})).start()


def test_docker_sandbox_without_testcontainers_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "testcontainers.core.docker_client", None)
    with (
        pytest.raises(DockerUnavailableError, match="needs testcontainers"),
        DockerSandbox(load_settings({})),
    ):
        pass


class FakeContainer:
    """Stands in for testcontainers' DockerContainer: records what start() asked for."""

    made: list[FakeContainer] = []

    def __init__(self, image: str) -> None:
        self.image, self.env, self.ports = image, dict[str, str](), dict[str, Any]()
        self.status, self.removed = "created", False
        FakeContainer.made.append(self)

    def with_envs(self, **env: str) -> FakeContainer:
        self.env.update(env)
        return self

    def start(self) -> None:
        self.status = "running"

    def reload(self) -> None:
        pass

    def get_logs(self) -> tuple[bytes, bytes]:
        return b"LocalStack says hello\n", b""

    def stop(self, force: bool, delete_volume: bool) -> None:
        self.removed = force and delete_volume


def test_docker_sandbox_start_and_timeout_with_fakes(
    monkeypatch: pytest.MonkeyPatch, health_server: tuple[int, dict[str, str]]
) -> None:
    from testcontainers.core import container as tc_container

    from eda_sandbox.emulator import docker as docker_sandbox

    builds: list[dict[str, Any]] = []
    # build() and images.get() are all DockerSandbox asks of testcontainers' DockerClient.
    client = SimpleNamespace(
        build=lambda **kw: builds.append(kw),
        client=SimpleNamespace(images=SimpleNamespace(get=lambda name: None)),
    )
    monkeypatch.setattr(docker_sandbox, "_docker_client", lambda: client)
    monkeypatch.setattr(tc_container, "DockerContainer", FakeContainer)
    monkeypatch.delenv("EDA_SANDBOX_IMAGE", raising=False)
    port, services = health_server
    services.update(dict.fromkeys(DEFAULT_SERVICES, "running"))
    with DockerSandbox(load_settings({}), port=port) as endpoint:
        assert endpoint == f"http://127.0.0.1:{port}"
        made = FakeContainer.made[-1]
        assert made.image == "eda-sandbox:local" and made.env["EDA_SANDBOX_PORT"] == str(port)
        assert made.ports == {f"{port}/tcp": ("127.0.0.1", port)}, "loopback, same port inside"
    assert made.removed
    assert builds == [{"path": str(ROOT), "tag": "eda-sandbox:local", "rm": True}]

    services["lambda"] = "starting"
    box = DockerSandbox(load_settings({}), port=port, timeout=0.3, image="prebuilt:1", build=False)
    with pytest.raises(DockerSandboxError, match=r"(?s)'lambda': 'starting'.*says hello"):
        box.start()
    assert FakeContainer.made[-1].removed and box.container is None
