"""AWS calls that library helpers make on a handler's behalf.

Written by hand because these calls happen inside the libraries, where the call finder
does not look; tests/unit/iam checks the Python entry against the installed Powertools
source, so a Powertools upgrade that changes its calls fails there.

Powertools helpers that imply no AWS call: Logger (stdout), Metrics (EMF lines on
stdout, no PutMetricData), the batch processors (they only build batchItemFailures).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Helper:
    """A library constructor whose object makes ``operations`` on the resource it is given."""

    name: str
    service: str
    operations: tuple[str, ...]
    # Where the resource is passed: keyword (Python) or option key (Node), and position.
    keyword: str
    position: int | None = None


_IDEMPOTENCY_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")

# Keyed by (top-level package, class name): Powertools re-exports the class from several
# modules (utilities.idempotency, utilities.idempotency.persistence.dynamodb).
PYTHON_HELPERS: dict[tuple[str, str], Helper] = {
    ("aws_lambda_powertools", "DynamoDBPersistenceLayer"): Helper(
        "Powertools idempotency (DynamoDBPersistenceLayer)",
        "dynamodb",
        _IDEMPOTENCY_OPERATIONS,
        keyword="table_name",
        position=0,
    ),
}

# Keyed by (package, exported name).
NODE_HELPERS: dict[tuple[str, str], Helper] = {
    ("@aws-lambda-powertools/idempotency/dynamodb", "DynamoDBPersistenceLayer"): Helper(
        "Powertools idempotency (DynamoDBPersistenceLayer)",
        "dynamodb",
        _IDEMPOTENCY_OPERATIONS,
        keyword="tableName",
    ),
}
