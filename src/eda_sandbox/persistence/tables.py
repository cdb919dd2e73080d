"""Persistence of the DynamoDB process's tables (``EDA_SANDBOX_PERSIST=1``).

moto keeps DynamoDB in ``moto.dynamodb.models.dynamodb_backends`` and has no
persistence of its own, and LocalStack's snapshot strategies are not in localstack-core
(flusher.py), so this is hand-written and small: the backends are pickled under the
process's one operation lock (so a snapshot never holds half an UpdateItem) every
second after a write, and once more when the process stops; a SIGKILL loses at most
the last second. The file is replaced atomically (snapshot.write).
"""

from __future__ import annotations

import threading
from pathlib import Path

from eda_sandbox.persistence import restore, snapshot
from eda_sandbox.persistence.flusher import Flusher

FLUSH_INTERVAL = 1.0
# Operations that change nothing; every other one marks the tables for the next save.
READ_OPERATIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "ExecuteStatement"}
)
_NAME = "dynamodb"


class TablePersistence:
    """Load the tables at start, save them after writes and at stop."""

    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self.path = path
        self._lock = lock
        self._flusher = Flusher(self._save, FLUSH_INTERVAL, "eda-persist-dynamodb")

    def load(self) -> bool:
        """Put the snapshot's tables into moto; False when there is none yet.

        Raises SnapshotCorruptError naming the file.
        """
        from moto.dynamodb.models import dynamodb_backends

        saved = snapshot.read(self.path)
        if saved is None:
            return False
        with self._lock:
            restore.into(dynamodb_backends, saved)
        return True

    def saw(self, operation: str) -> None:
        """Called after each request with its operation name."""
        if operation not in READ_OPERATIONS and not operation.startswith(("Describe", "List")):
            self._flusher.mark(_NAME)

    def start(self) -> None:
        self._flusher.start()

    def stop(self) -> None:
        self._flusher.stop(final=[_NAME])

    def _save(self, _name: str) -> None:
        from moto.dynamodb.models import dynamodb_backends

        with self._lock:
            data = snapshot.encode(dynamodb_backends)
        snapshot.write(self.path, data)
