"""Small topologies and handler folders under tmp_path for the IAM check's tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eda_sandbox.topology.loader import LoadedTopology, load_topology

# One function, one table; each test adds the code and the permissions it needs.
BASE: dict[str, Any] = {
    "project": "demo",
    "base_dir": ".",
    "tables": {
        "Orders": {"partition_key": {"name": "order_id"}},
        "Other": {"partition_key": {"name": "id"}},
    },
    "queues": {"Jobs": {"visibility_timeout": 60}},
    "functions": {
        "fn": {
            "runtime": "python3.13",
            "code": "handlers/fn",
            "timeout": 10,
            "environment": {
                "ORDERS_TABLE": "${tables.Orders.name}",
                "JOBS_URL": "${queues.Jobs.url}",
            },
            "permissions": [
                {"actions": ["dynamodb:PutItem"], "resources": ["${tables.Orders.arn}"]},
            ],
        }
    },
}

Make = Callable[..., LoadedTopology]  # the fixture's type


@pytest.fixture
def make_topology(tmp_path: Path) -> Make:
    """Write ``files`` (name -> source) as the function's code and load the topology."""

    def make(
        files: dict[str, str],
        permissions: list[dict[str, Any]] | None = None,
        runtime: str = "python3.13",
        **function: Any,
    ) -> LoadedTopology:
        code = tmp_path / "handlers" / "fn"
        code.mkdir(parents=True, exist_ok=True)
        for name, source in files.items():
            (code / name).write_text(textwrap.dedent(source).lstrip())
        doc = yaml.safe_load(yaml.safe_dump(BASE))
        fn = doc["functions"]["fn"]
        fn["runtime"] = runtime
        fn.update(function)
        if permissions is not None:
            fn["permissions"] = permissions
        path = tmp_path / "topology.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return load_topology(path)

    return make
