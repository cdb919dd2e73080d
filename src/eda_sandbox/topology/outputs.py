"""outputs.json: the resolved names, ARNs and URLs of an applied topology.

Written atomically by ``apply``; read by tests, the CLI and benchmarks through
:func:`load_outputs`, so nobody hard-codes an account id or a queue URL.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict, cast

from eda_sandbox.errors import SandboxError
from eda_sandbox.topology.naming import Names


class OutputsError(SandboxError):
    """outputs.json is missing or unreadable: apply the topology first."""


class ArnOutput(TypedDict):
    arn: str
    name: str


class QueueOutput(TypedDict):
    url: str
    arn: str
    name: str


class RuleOutput(TypedDict):
    arn: str
    name: str
    bus: str


class TableOutput(TypedDict):
    name: str
    arn: str


class FunctionOutput(TypedDict):
    arn: str
    name: str
    log_group: str
    role: str


class LayerOutput(TypedDict):
    name: str
    arn: str  # the version the functions use ("" in a dry run that would publish one)


class RoleOutput(TypedDict):
    name: str
    arn: str


class Outputs(TypedDict):
    project: str
    owner: str
    region: str
    endpoint_url: str | None
    topics: dict[str, ArnOutput]
    queues: dict[str, QueueOutput]
    buses: dict[str, ArnOutput]
    rules: dict[str, RuleOutput]
    tables: dict[str, TableOutput]
    functions: dict[str, FunctionOutput]
    roles: dict[str, RoleOutput]
    layers: dict[str, LayerOutput]


def build_outputs(
    names: Names,
    endpoint_url: str | None,
    queue_urls: Mapping[str, str],
    layer_arns: Mapping[str, str] | None = None,
) -> Outputs:
    t = names.topology
    return {
        "project": t.project,
        "owner": names.owner,
        "region": names.region,
        "endpoint_url": endpoint_url,
        "topics": {n: {"arn": names.topic_arn(n), "name": names.topic(n)} for n in t.topics},
        "queues": {
            n: {"url": queue_urls.get(n, ""), "arn": names.queue_arn(n), "name": names.queue(n)}
            for n in t.queues
        },
        "buses": {n: {"arn": names.bus_arn(n), "name": names.bus(n)} for n in t.buses},
        "rules": {
            n: {"arn": names.rule_arn(n), "name": names.rule(n), "bus": r.bus}
            for n, r in t.rules.items()
        },
        "tables": {n: {"name": names.table(n), "arn": names.table_arn(n)} for n in t.tables},
        "functions": {
            n: {
                "arn": names.function_arn(n),
                "name": names.function(n),
                "log_group": names.log_group(n),
                "role": n,
            }
            for n in t.functions
        },
        "roles": {n: {"name": names.role(n), "arn": names.role_arn(n)} for n in t.functions},
        "layers": {
            n: {"name": names.layer(n), "arn": (layer_arns or {}).get(n, "")} for n in t.layers
        },
    }


def write_outputs(path: Path, outputs: Outputs) -> None:
    """Replace ``path`` atomically: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(outputs, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_outputs(path: Path | None = None) -> Outputs:
    """The outputs of the last apply (default: ``Settings.outputs_file``)."""
    if path is None:
        from eda_sandbox.config import load_settings

        path = load_settings().outputs_file
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise OutputsError(f"{path} does not exist: apply the topology first") from e
    except (OSError, ValueError) as e:
        raise OutputsError(f"{path} is unreadable: {e}") from e
    return cast(Outputs, data)


def queue_url(outputs: Outputs, name: str) -> str:
    return outputs["queues"][name]["url"]


def topic_arn(outputs: Outputs, name: str) -> str:
    return outputs["topics"][name]["arn"]


def table_name(outputs: Outputs, name: str) -> str:
    return outputs["tables"][name]["name"]


def function_name(outputs: Outputs, name: str) -> str:
    return outputs["functions"][name]["name"]
