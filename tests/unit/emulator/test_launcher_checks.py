"""What ``up`` says at once instead of waiting 60 s, the environment LocalStack gets, and
what ``down`` removes outside the state folder. No LocalStack is started: ``Popen`` fails
the test if a check lets ``start`` get that far."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eda_sandbox.config import Settings, load_settings
from eda_sandbox.emulator import launcher
from eda_sandbox.errors import PortInUseError, SandboxElsewhereError
from eda_sandbox.executor import zygotes


@pytest.fixture
def no_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def popen(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("start() went on to launch LocalStack")

    monkeypatch.setattr(launcher.subprocess, "Popen", popen)


@pytest.fixture
def listener() -> Iterator[int]:
    """A plain TCP listener (not HTTP): the port is taken, but nothing answers health."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def settings_for(tmp_path: Path, port: int) -> Settings:
    return load_settings({"EDA_SANDBOX_STATE_DIR": str(tmp_path), "EDA_SANDBOX_PORT": str(port)})


def test_pid_file_records_host_and_port(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, 4611)
    launcher.write_pid_record(settings, os.getpid())

    assert settings.pid_file.read_text().splitlines() == [str(os.getpid()), "127.0.0.1:4611"]
    record = launcher.read_pid_record(settings)
    assert record == launcher.PidRecord(os.getpid(), "127.0.0.1", 4611)


def test_up_on_a_second_port_names_the_running_sandbox(tmp_path: Path, no_start: None) -> None:
    # This test's own process stands in for a LocalStack that runs on 4588.
    launcher.write_pid_record(settings_for(tmp_path, 4588), os.getpid())

    with pytest.raises(SandboxElsewhereError) as caught:
        launcher.start(settings_for(tmp_path, 4599))
    message = str(caught.value)
    assert f"already runs on 127.0.0.1:4588 (pid {os.getpid()})" in message
    assert "EDA_SANDBOX_PORT=4588" in message


def test_up_on_a_port_another_process_holds_names_it(
    tmp_path: Path, listener: int, no_start: None
) -> None:
    with pytest.raises(PortInUseError) as caught:
        launcher.start(settings_for(tmp_path, listener))
    message = str(caught.value)
    assert f"port {listener} on 127.0.0.1 is already in use" in message
    assert f"held by pid {os.getpid()}" in message


def test_localstack_gets_no_host_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIAHOSTSECRET",
        "AWS_SECRET_ACCESS_KEY": "host-secret-key",
        "AWS_SESSION_TOKEN": "host-session-token",
        "AWS_PROFILE": "host-profile",
        "AWS_DEFAULT_PROFILE": "host-default-profile",
        "AWS_CONFIG_FILE": "/home/someone/.aws/config-secret",
        "AWS_SHARED_CREDENTIALS_FILE": "/home/someone/.aws/credentials-secret",
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/host-secret-role",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/host-secret-token",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)

    env = launcher.localstack_env(load_settings())

    leaked = {k: v for k, v in env.items() if any(s in v for s in secrets.values())}
    assert leaked == {}
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env


def test_down_removes_the_fork_server_sockets_of_its_sandbox_only(tmp_path: Path) -> None:
    mine = settings_for(tmp_path / "mine", 4612)
    other = settings_for(tmp_path / "other", 4613)
    paths = [Path(zygotes.paths(s, rt)[0]) for s in (mine, other) for rt in ("python3.12", "x")]
    for path in paths:
        path.touch()
    try:
        removed = zygotes.remove_sockets(mine)
        assert sorted(removed) == sorted(paths[:2])
        assert [p.exists() for p in paths] == [False, False, True, True]
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def test_ready_once_every_service_can_serve(tmp_path: Path) -> None:
    """A service that has not loaded yet ("available") loads on the request that needs it
    (patches/loading.py), so it counts as ready; a missing or failed one does not."""
    settings = settings_for(tmp_path, 4611)
    states = dict.fromkeys(settings.services, "available")
    states[settings.services[0]] = "running"
    assert launcher._services_ready(settings, states)
    assert not launcher._services_ready(settings, {**states, settings.services[1]: "error"})
    assert not launcher._services_ready(settings, {settings.services[0]: "running"})
    assert not launcher._services_ready(settings, {})


def test_with_persistence_ready_waits_for_every_snapshot(tmp_path: Path) -> None:
    """A service's start loads its snapshot; one it cannot read must stop `up`."""
    settings = load_settings(
        {
            "EDA_SANDBOX_STATE_DIR": str(tmp_path),
            "EDA_SANDBOX_PORT": "4611",
            "EDA_SANDBOX_PERSIST": "1",
        }
    )
    states = dict.fromkeys(settings.services, "running")
    assert launcher._services_ready(settings, states)
    assert not launcher._services_ready(settings, {**states, settings.services[0]: "available"})


def test_localstack_serves_before_its_services_have_loaded(tmp_path: Path) -> None:
    env = launcher.localstack_env(settings_for(tmp_path, 4611))
    assert env["EAGER_SERVICE_LOADING"] == "0"
