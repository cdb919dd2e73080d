"""Plan refuses IAM actions that do not exist and wildcards nobody asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from eda_sandbox.topology.loader import InvalidTopologyError, load_topology

AT = "functions.fn.permissions[0]"


def _load(tmp_path: Path, permission: dict[str, Any]) -> list[str]:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return event\n")
    doc = {
        "project": "demo",
        "base_dir": ".",
        "queues": {"Jobs": {}},
        "functions": {"fn": {"runtime": "python3.13", "code": "fn", "permissions": [permission]}},
    }
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        load_topology(path)
    except InvalidTopologyError as e:
        return [p.removeprefix(f"{path}: ") for p in e.problems]
    return []


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        pytest.param(
            {"actions": ["sqs:SendMesage"], "resources": ["${queues.Jobs.arn}"]},
            [
                f"{AT}.actions[0]: 'sqs:SendMesage' is not an IAM action "
                "(did you mean 'sqs:SendMessage'?)"
            ],
            id="misspelled-action",
        ),
        pytest.param(
            {"actions": ["sqq:SendMessage"], "resources": ["${queues.Jobs.arn}"]},
            [f"{AT}.actions[0]: 'sqq:SendMessage': 'sqq' is not an IAM service prefix"],
            id="unknown-service",
        ),
        pytest.param(
            {"actions": ["sqs:Frobnicate*"], "resources": ["${queues.Jobs.arn}"]},
            [f"{AT}.actions[0]: 'sqs:Frobnicate*' matches no sqs action"],
            id="wildcard-matching-nothing",
        ),
        pytest.param(
            {"actions": ["sqs:*"], "resources": ["*"]},
            [
                f"{AT}.resources[0]: '*' is a wildcard; name what the function uses, "
                "or set allow_wildcard: true with a reason",
                f"{AT}.actions[0]: 'sqs:*' is a wildcard; name what the function uses, "
                "or set allow_wildcard: true with a reason",
            ],
            id="wildcards-not-asked-for",
        ),
        pytest.param(
            {"actions": ["sqs:*"], "resources": ["*"], "allow_wildcard": True},
            [f"{AT}: allow_wildcard: true needs a reason"],
            id="wildcard-without-reason",
        ),
    ],
)
def test_bad_permission_is_refused(
    tmp_path: Path, permission: dict[str, Any], expected: list[str]
) -> None:
    assert _load(tmp_path, permission) == expected


def test_reasoned_wildcard_and_real_actions_are_accepted(tmp_path: Path) -> None:
    wildcard = {
        "actions": ["sqs:SendMessage", "sqs:Get*"],
        "resources": ["${queues.Jobs.arn}", "arn:aws:sqs:*:*:jobs-*"],
        "allow_wildcard": True,
        "reason": "one queue per tenant, created at run time",
    }
    assert _load(tmp_path, wildcard) == []
