"""``python -m eda_sandbox.topology check-iam``: exit status and what a user reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eda_sandbox.topology.__main__ import main
from eda_sandbox.topology.loader import load_topology

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    """The reference topology and handlers, copied so a test may break them."""
    for folder in ("handlers", "layers"):
        shutil.copytree(
            REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("node_modules")
        )
    (tmp_path / "infra").mkdir()
    shutil.copy(REPO / "infra" / "topology.yaml", tmp_path / "infra" / "topology.yaml")
    return tmp_path


def test_reference_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-iam", "--file", str(REPO / "infra" / "topology.yaml"), "--strict"]) == 0
    functions = len(load_topology(REPO / "infra" / "topology.yaml").topology.functions)
    assert f"check-iam passed: {functions} function(s)" in capsys.readouterr().out


def test_an_extra_call_fails_with_file_line_and_action(
    reference_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = reference_copy / "handlers" / "order_placed_handler" / "app.py"
    lines = app.read_text().splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if "_placed_orders_table.update_item(" in text)
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, f"{indent}_placed_orders_table.scan()\n")
    app.write_text("".join(lines))
    line = at + 2
    topology = reference_copy / "infra" / "topology.yaml"
    assert main(["check-iam", "--file", str(topology)]) == 1
    out = capsys.readouterr().out
    assert f"handlers/order_placed_handler/app.py:{line}: error: [missing]" in out
    assert "dynamodb:Scan" in out
    assert "${tables.PlacedOrders.arn}" in out
    assert "check-iam failed" in out


def test_a_removed_permission_fails(
    reference_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = reference_copy / "infra" / "topology.yaml"
    text = topology.read_text()
    topology.write_text(
        text.replace(
            "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]",
            "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem]",
            1,
        )
    )
    assert main(["check-iam", "--file", str(topology), "--function", "user_signup_handler"]) == 1
    out = capsys.readouterr().out
    # The idempotency store is created in the shared layer the function lists.
    handling = "layers/shared/python/eda_events/handling.py"
    lines = (reference_copy / handling).read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "DynamoDBPersistenceLayer(" in text)
    assert f"{handling}:{line}: error: [missing]" in out
    assert "dynamodb:DeleteItem" in out and "Powertools idempotency" in out


def test_an_unasked_wildcard_is_refused_before_the_check(
    reference_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = reference_copy / "infra" / "topology.yaml"
    text = topology.read_text()
    topology.write_text(text.replace('resources: ["${tables.Users.arn}"]', 'resources: ["*"]', 1))
    assert main(["check-iam", "--file", str(topology)]) == 2
    err = capsys.readouterr().err
    assert "functions.user_signup_handler.permissions[0].resources[0]: '*' is a wildcard" in err


def test_an_unknown_function_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    topology = str(REPO / "infra" / "topology.yaml")
    assert main(["check-iam", "--file", topology, "--function", "nope"]) == 2
    assert "no function 'nope'" in capsys.readouterr().err
