"""Lambda layers end to end: declared in a topology, published, attached, seen by the runtime.

One small topology (a layer and two functions with the same code, one of them without the
layer) is applied with its own name suffix and destroyed afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eda_sandbox.config import load_settings
from eda_sandbox.testing import AwsClients
from eda_sandbox.topology import Engine, load_topology

pytestmark = pytest.mark.integration

APP = "from greeting import WORD\n\ndef handler(event, context):\n    return WORD\n"
TOPOLOGY = {
    "project": "layers-test",
    "base_dir": ".",
    "layers": {"greeting": {"code": "layers/greeting", "runtimes": ["python3.12", "python3.13"]}},
    "functions": {
        "with_layer": {"runtime": "python3.12", "code": "handlers/app", "layers": ["greeting"]},
        "without_layer": {"runtime": "python3.13", "code": "handlers/app"},
    },
}


def invoke(aws: AwsClients, name: str) -> tuple[dict[str, Any], Any]:
    resp = aws.lambda_.invoke(FunctionName=name, Payload=b"{}")
    return resp, json.loads(resp["Payload"].read())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "handlers" / "app").mkdir(parents=True)
    (tmp_path / "handlers" / "app" / "app.py").write_text(APP)
    (tmp_path / "layers" / "greeting" / "python").mkdir(parents=True)
    (tmp_path / "layers" / "greeting" / "python" / "greeting.py").write_text("WORD = 'v1'\n")
    (tmp_path / "topology.yaml").write_text(yaml.safe_dump(TOPOLOGY))
    return tmp_path


@pytest.fixture
def engine(aws: AwsClients, project: Path) -> Iterator[Engine]:
    settings = load_settings()
    with Engine(
        load_topology(project / "topology.yaml"),
        endpoint_url=settings.endpoint_url,
        region=settings.region,
        name_suffix=f"-l{uuid.uuid4().hex[:6]}",
        build_dir=project / "build",
    ) as eng:
        try:
            yield eng
        finally:
            eng.destroy()


def test_a_layer_is_imported_missed_without_it_and_a_change_reaches_its_function(
    aws: AwsClients, engine: Engine, project: Path
) -> None:
    engine.apply()
    with_layer, without = (
        engine.names.function("with_layer"),
        engine.names.function("without_layer"),
    )
    resp, body = invoke(aws, with_layer)
    assert "FunctionError" not in resp, body
    assert body == "v1"

    resp, body = invoke(aws, without)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'greeting'"

    (project / "layers" / "greeting" / "python" / "greeting.py").write_text("WORD = 'v2'\n")
    result = engine.apply()
    changed = {
        (c.resource.kind, c.resource.logical): c.details for c in result.changes if c.details
    }
    assert changed == {("layer", "greeting"): ["content"], ("function", "with_layer"): ["Layers"]}
    resp, body = invoke(aws, with_layer)
    assert body == "v2", body
    assert engine.apply().changed == 0

    name = engine.names.layer("greeting")
    engine.destroy()
    assert aws.lambda_.list_layer_versions(LayerName=name)["LayerVersions"] == []


def test_layers_merge_in_the_functions_order_as_in_opt(
    aws: AwsClients, lambda_create_function: Any, publish_layer: Callable[[dict[str, str]], str]
) -> None:
    # On AWS both layers are extracted into /opt: a later file replaces an earlier one,
    # and a package both layers ship holds the modules of both.
    first = publish_layer(
        {
            "python/shared.py": "WHO = 'first'\n",
            "python/pkg/__init__.py": "NAME = 'first'\n",
            "python/pkg/from_first.py": "",
            "python/lib/python3.12/site-packages/versioned.py": "WHERE = 'site-packages'\n",
            "python/versioned.py": "WHERE = 'python'\n",
        }
    )
    second = publish_layer(
        {
            "python/shared.py": "WHO = 'second'\n",
            "python/pkg/__init__.py": "NAME = 'second'\n",
            "python/pkg/from_second.py": "",
        }
    )
    app = (
        "import shared, versioned, pkg.from_first, pkg.from_second\n"
        "import pkg\n"
        "def handler(event, context):\n"
        "    return [shared.WHO, pkg.NAME, versioned.WHERE]\n"
    )
    fn = lambda_create_function({"app.py": app}, Layers=[first, second])
    resp, body = invoke(aws, fn["FunctionName"])
    assert "FunctionError" not in resp, body
    assert body == ["second", "second", "site-packages"]
