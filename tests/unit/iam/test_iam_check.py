"""The least-privilege check against small topologies, and against the reference one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eda_sandbox.iam.check import check_topology
from eda_sandbox.iam.report import Kind, Severity
from eda_sandbox.topology.loader import LoadedTopology, load_topology

REPO = Path(__file__).resolve().parents[3]
Make = Callable[..., LoadedTopology]  # the make_topology fixture (conftest.py)

PUT = """
import os
import boto3

_table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def handler(event, context):
    _table.put_item(Item={"order_id": "1"})
"""


def test_reference_topology_passes_clean_even_strict() -> None:
    report = check_topology(load_topology(REPO / "infra" / "topology.yaml"))
    assert [f.line() for f in report.findings if f.severity is not Severity.INFO] == []
    assert report.calls > 0
    assert report.status(strict=True) == 0


def test_a_call_the_role_lacks_fails_naming_file_line_and_action(make_topology: Make) -> None:
    source = (
        PUT
        + '    boto3.client("sqs").send_message(QueueUrl=os.environ["JOBS_URL"], MessageBody="x")\n'
    )
    report = check_topology(make_topology({"app.py": source}))
    [missing] = report.failing(strict=False)
    assert missing.kind is Kind.MISSING
    assert missing.where == "handlers/fn/app.py:9"
    assert "sqs:SendMessage" in missing.message
    assert "${queues.Jobs.arn}" in missing.message  # what to add, as a reference


def test_a_call_on_another_resource_than_granted_fails(make_topology: Make) -> None:
    perms = [{"actions": ["dynamodb:PutItem"], "resources": ["${tables.Other.arn}"]}]
    report = check_topology(make_topology({"app.py": PUT}, permissions=perms))
    kinds = [(f.kind, f.where) for f in report.failing(strict=False)]
    assert kinds == [(Kind.WRONG_RESOURCE, "handlers/fn/app.py:8")]


def test_unused_grant_warns_and_fails_only_with_strict(make_topology: Make) -> None:
    perms = [
        {
            "actions": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
            "resources": ["${tables.Orders.arn}"],
        }
    ]
    report = check_topology(make_topology({"app.py": PUT}, permissions=perms))
    [unused] = report.findings
    assert (unused.kind, unused.severity) == (Kind.UNUSED, Severity.WARNING)
    assert "dynamodb:DeleteItem on ${tables.Orders.arn}" in unused.message
    file, line = unused.where.rsplit(":", 1)
    assert Path(file).read_text().splitlines()[int(line) - 1].strip() == "- dynamodb:DeleteItem"
    assert report.status(strict=False) == 0
    assert report.status(strict=True) == 1


def test_a_dynamic_service_is_listed_as_unresolved(make_topology: Make) -> None:
    source = PUT + '    boto3.client(os.environ["SERVICE"]).do_it()\n'
    report = check_topology(make_topology({"app.py": source}))
    assert {(f.kind, f.where) for f in report.findings} == {
        (Kind.UNRESOLVED, "handlers/fn/app.py:9")
    }
    assert "the service name is not a string literal" in report.findings[0].message
    assert report.status(strict=False) == 0
    assert report.status(strict=True) == 1


def test_an_allowed_wildcard_is_reported_not_failed(make_topology: Make) -> None:
    perms = [
        {
            "actions": ["dynamodb:PutItem"],
            "resources": ["*"],
            "allow_wildcard": True,
            "reason": "tables are created at run time",
        }
    ]
    report = check_topology(make_topology({"app.py": PUT}, permissions=perms))
    assert report.status(strict=True) == 0
    assert {(f.kind, f.severity) for f in report.findings} == {
        (Kind.WILDCARD, Severity.INFO),
        (Kind.LINT, Severity.INFO),  # parliament's RESOURCE_STAR, accepted with the reason
    }


def test_powertools_idempotency_implies_its_table_actions(make_topology: Make) -> None:
    source = """
    import os
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    persistence = DynamoDBPersistenceLayer(table_name=os.environ["ORDERS_TABLE"])

    def handler(event, context):
        return event
    """
    report = check_topology(make_topology({"app.py": source}))
    missing = sorted(f.message.split(" ")[0] for f in report.failing(strict=False))
    assert missing == ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
