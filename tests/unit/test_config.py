from __future__ import annotations

import os
from pathlib import Path

import pytest

from eda_sandbox.config import DEFAULT_SERVICES, load_settings
from eda_sandbox.errors import SettingsError


def test_defaults_listen_on_loopback_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings({})
    assert (s.host, s.port) == ("127.0.0.1", 4566)
    assert s.endpoint_url == "http://127.0.0.1:4566"
    assert s.state_dir == tmp_path / ".sandbox"
    assert s.services == DEFAULT_SERVICES
    assert s.region == "us-east-1"


def test_standard_variables_win() -> None:
    s = load_settings(
        {"AWS_ENDPOINT_URL": "http://10.1.2.3:4567/", "AWS_DEFAULT_REGION": "eu-west-1"}
    )
    assert s.endpoint_url == "http://10.1.2.3:4567"
    assert s.region == "eu-west-1"


def test_port_and_bind_address_from_env() -> None:
    s = load_settings({"EDA_SANDBOX_PORT": "4777", "EDA_SANDBOX_HOST": "0.0.0.0"})
    assert s.port == 4777
    # Binding everywhere still connects over loopback.
    assert s.endpoint_url == "http://127.0.0.1:4777"


def test_settings_are_frozen() -> None:
    s = load_settings({})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EDA_SANDBOX_PORT": "http"}, "EDA_SANDBOX_PORT='http': is not an integer port"),
        ({"EDA_SANDBOX_PORT": "70000"}, "EDA_SANDBOX_PORT='70000': is not between 1 and 65535"),
        (
            {"EDA_SANDBOX_HOST": "localhost"},
            "EDA_SANDBOX_HOST='localhost': is not an IP address to bind to",
        ),
        (
            {"EDA_SANDBOX_LOG_LEVEL": "loud"},
            "EDA_SANDBOX_LOG_LEVEL='loud': must be one of trace, debug, info, warn, error",
        ),
        (
            {"AWS_ENDPOINT_URL": "localhost:4566"},
            "AWS_ENDPOINT_URL='localhost:4566': is not an http(s) URL",
        ),
        (
            {"EDA_SANDBOX_ESM_POLL_INTERVAL": "-0.5"},
            "EDA_SANDBOX_ESM_POLL_INTERVAL='-0.5': must not be negative",
        ),
        (
            {"EDA_SANDBOX_ESM_IDLE_POLL": "0"},
            "EDA_SANDBOX_ESM_IDLE_POLL='0': must be greater than 0",
        ),
        (
            {"EDA_SANDBOX_LAMBDA_RESULTS": "sync"},
            "EDA_SANDBOX_LAMBDA_RESULTS='sync': must be 'direct' or 'callback'",
        ),
        (
            {"GATEWAY_SERVER": "werkzeug"},
            "GATEWAY_SERVER='werkzeug': must be one of eda, twisted, hypercorn",
        ),
        (
            {"EDA_SANDBOX_ESM_POLLERS": "0"},
            "EDA_SANDBOX_ESM_POLLERS='0': must be 1 or more",
        ),
        (
            {"EDA_SANDBOX_ASYNC_INVOKERS": "many"},
            "EDA_SANDBOX_ASYNC_INVOKERS='many': is not a whole number",
        ),
        (
            {"EDA_SANDBOX_DYNAMODB": "java"},
            "EDA_SANDBOX_DYNAMODB='java': must be one of process, inline",
        ),
        (
            {"EDA_SANDBOX_READY_TIMEOUT": "-1"},
            "EDA_SANDBOX_READY_TIMEOUT='-1': must be greater than 0",
        ),
        (
            {"EDA_SANDBOX_RETRY_DELAYS": "fast"},
            "EDA_SANDBOX_RETRY_DELAYS='fast': must be one of compressed, aws",
        ),
        (
            {"EDA_SANDBOX_SERVICES": "lambda,sqs"},
            "EDA_SANDBOX_SERVICES='lambda,sqs': lambda needs sts, iam, logs too",
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert str(info.value) == message


def test_localstack_runs_our_gateway_server_and_in_memory_clients() -> None:
    from eda_sandbox.emulator.launcher import localstack_env

    env = localstack_env(load_settings({}))
    assert (env["GATEWAY_SERVER"], env["IN_MEMORY_CLIENT"]) == ("eda", "1")
    # Both stay the user's choice.
    chosen = load_settings({"GATEWAY_SERVER": "Twisted"})
    assert chosen.gateway_server == "twisted"
    assert localstack_env(chosen)["GATEWAY_SERVER"] == "twisted"


def test_dynamodb_runs_in_its_own_process_unless_asked_inline() -> None:
    from eda_sandbox.emulator.launcher import localstack_env

    assert localstack_env(load_settings({}))["EDA_SANDBOX_DYNAMODB"] == "process"
    inline = load_settings({"EDA_SANDBOX_DYNAMODB": " Inline "})
    assert inline.dynamodb_server == "inline"
    assert localstack_env(inline)["EDA_SANDBOX_DYNAMODB"] == "inline"


def test_poller_and_invoker_counts_reach_localstack() -> None:
    from eda_sandbox.emulator.launcher import localstack_env

    defaults = localstack_env(load_settings({}))
    assert (defaults["EDA_SANDBOX_ESM_POLLERS"], defaults["EDA_SANDBOX_ASYNC_INVOKERS"]) == (
        "4",
        "16",
    )
    chosen = load_settings({"EDA_SANDBOX_ESM_POLLERS": "2", "EDA_SANDBOX_ASYNC_INVOKERS": "8"})
    assert (chosen.esm_pollers, chosen.async_invokers) == (2, 8)


def test_lambda_starts_default_to_the_cores_and_reach_localstack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eda_sandbox.emulator.launcher import localstack_env

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert load_settings({}).lambda_starts == 8
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert load_settings({}).lambda_starts == 2  # never fewer than two at once
    chosen = load_settings({"EDA_SANDBOX_LAMBDA_STARTS": "3"})
    assert localstack_env(chosen)["EDA_SANDBOX_LAMBDA_STARTS"] == "3"
    with pytest.raises(SettingsError, match="EDA_SANDBOX_LAMBDA_STARTS='0': must be 1 or more"):
        load_settings({"EDA_SANDBOX_LAMBDA_STARTS": "0"})


def test_retry_delays_are_compressed_unless_aws_is_asked_for() -> None:
    from eda_sandbox.emulator.launcher import localstack_env

    compressed = load_settings({})
    assert (compressed.retry_delays, compressed.retry_delay_factor) == ("compressed", 1 / 60)
    # LocalStack waits retries x LAMBDA_RETRY_BASE_DELAY seconds; AWS 1 and 2 minutes.
    assert localstack_env(compressed)["LAMBDA_RETRY_BASE_DELAY"] == "1"
    aws = load_settings({"EDA_SANDBOX_RETRY_DELAYS": " AWS "})
    assert (aws.retry_delays, aws.retry_delay_factor) == ("aws", 1.0)
    env = localstack_env(aws)
    assert (env["LAMBDA_RETRY_BASE_DELAY"], env["EDA_SANDBOX_RETRY_DELAYS"]) == ("60", "aws")


def test_plugin_cache_is_per_set_of_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reinstall that moves a plugin gets a fresh plux cache, never the stale one."""
    from importlib import metadata

    from eda_sandbox.emulator import launcher

    settings = load_settings({"EDA_SANDBOX_STATE_DIR": "/tmp/s"})
    before = launcher.localstack_env(settings)["XDG_CACHE_HOME"]
    assert before.startswith("/tmp/s/cache/")
    real = metadata.distribution

    class Moved:
        def __init__(self, name: str) -> None:
            self.dist = real(name)

        @property
        def version(self) -> str:
            return self.dist.version

        def read_text(self, filename: str) -> str | None:
            text = self.dist.read_text(filename) or ""
            return text.replace("eda_sandbox.executor.plugin", "eda_sandbox.moved.plugin")

    monkeypatch.setattr(metadata, "distribution", Moved)
    assert launcher.localstack_env(settings)["XDG_CACHE_HOME"] != before


def test_journey_ring_size_and_tracing_switch_are_validated() -> None:
    s = load_settings({})
    assert (s.tracing, s.journeys) == (True, 1000)
    s = load_settings({"EDA_SANDBOX_TRACING": "0", "EDA_SANDBOX_JOURNEYS": "50"})
    assert (s.tracing, s.journeys) == (False, 50)
    for name, value in (("EDA_SANDBOX_JOURNEYS", "0"), ("EDA_SANDBOX_TRACING", "maybe")):
        with pytest.raises(SettingsError) as error:
            load_settings({name: value})
        assert error.value.variable == name


def test_iam_enforcement_is_off_unless_asked_and_reaches_localstack() -> None:
    from eda_sandbox.emulator.launcher import localstack_env

    off = load_settings({})
    assert off.enforce_iam is False
    assert localstack_env(off)["EDA_SANDBOX_ENFORCE_IAM"] == "0"
    on = load_settings({"EDA_SANDBOX_ENFORCE_IAM": "1"})
    assert on.enforce_iam is True
    assert localstack_env(on)["EDA_SANDBOX_ENFORCE_IAM"] == "1"
    assert on.iam_url == f"{on.endpoint_url}/_eda-sandbox/iam"
    with pytest.raises(SettingsError) as error:
        load_settings({"EDA_SANDBOX_ENFORCE_IAM": "strict"})
    assert error.value.variable == "EDA_SANDBOX_ENFORCE_IAM"


def test_persistence_is_off_by_default_validated_and_kept_in_the_state_folder(
    tmp_path: Path,
) -> None:
    s = load_settings({"EDA_SANDBOX_STATE_DIR": str(tmp_path)})
    assert s.persist is False
    assert s.persist_dir == tmp_path / "persist"
    assert load_settings({"EDA_SANDBOX_PERSIST": "1"}).persist is True
    with pytest.raises(SettingsError) as error:
        load_settings({"EDA_SANDBOX_PERSIST": "sometimes"})
    assert error.value.variable == "EDA_SANDBOX_PERSIST"
    from eda_sandbox.emulator import launcher

    env = launcher.localstack_env(load_settings({"EDA_SANDBOX_PERSIST": "1"}))
    assert env["EDA_SANDBOX_PERSIST"] == "1"
