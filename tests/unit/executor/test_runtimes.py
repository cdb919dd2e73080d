"""Runtime adapters: which runtimes are served, what a Node.js function's process gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_sandbox.errors import RuntimeNotProvisionedError, RuntimeNotSupportedError
from eda_sandbox.executor import runtimes
from eda_sandbox.executor.init_process import runtime_command
from eda_sandbox.executor.layers import Opt
from eda_sandbox.executor.runtimes import NodeRuntime, PythonRuntime, RuntimeEnv


@pytest.mark.parametrize("runtime", ["nodejs16.x", "java21", None])
def test_unknown_runtime_names_itself_and_the_supported_ones(runtime: str | None) -> None:
    with pytest.raises(RuntimeNotSupportedError) as info:
        runtimes.adapter_for(runtime)
    assert str(info.value) == (
        f"runtime {runtime!r} is not supported by the eda-sandbox process executor; "
        "supported: nodejs20.x, nodejs22.x, nodejs24.x, "
        "python3.10, python3.11, python3.12, python3.13"
    )


def test_each_runtime_has_its_family() -> None:
    assert isinstance(runtimes.adapter_for("nodejs22.x"), NodeRuntime)
    assert isinstance(runtimes.adapter_for("python3.13"), PythonRuntime)
    assert runtimes.adapter_for("python3.13").PREFORKS
    assert not runtimes.adapter_for("nodejs22.x").PREFORKS


def test_unbuilt_node_runtime_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(RuntimeNotProvisionedError, match=r"eda-sandbox runtimes nodejs20\.x"):
        runtimes.locate(tmp_path, "nodejs20.x")


def test_node_environment_is_aws_shaped(tmp_path: Path) -> None:
    adapter = NodeRuntime("nodejs22.x")
    root = tmp_path / "nodejs22.x"
    rt = RuntimeEnv("nodejs22.x", root, root / "bin" / "node", root / "sdk" / "node_modules")
    opt = Opt(tmp_path / "opt")  # the function's layers, merged in their order
    env = adapter.environment(rt, "/task", opt)
    assert env["NODE_PATH"].split(":") == [
        f"{tmp_path}/opt/nodejs/node22/node_modules",
        f"{tmp_path}/opt/nodejs/node_modules",
        f"{root}/sdk/node_modules",
        str(root),
        "/task",
    ]
    assert env["PATH"].startswith(f"{root}/bin:")
    assert env["PATH"].endswith(f":{tmp_path}/opt/bin")
    no_layers = adapter.environment(rt, "/task", Opt(None))
    assert no_layers["NODE_PATH"].split(":") == [f"{root}/sdk/node_modules", str(root), "/task"]
    assert env["TZ"] == ":UTC"
    command = adapter.command(rt, "index.handler")
    assert command[:2] == [str(rt.executable), str(runtimes.node.BOOTSTRAP)]
    assert command[2:] == [str(root / "compile-cache")]  # Node 22 has V8's compile cache
    assert NodeRuntime("nodejs20.x").command(rt, "index.handler")[2:] == []


def test_init_reads_the_runtime_command() -> None:
    assert runtime_command({"EDA_INIT_COMMAND": '["node", "b.cjs"]'}) == ["node", "b.cjs"]
    assert runtime_command({}) == []
