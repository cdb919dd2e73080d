"""Opt-in persistence (``EDA_SANDBOX_PERSIST=1``): state that survives ``down`` / ``up``
and loses at most the last second to a crash.

- ``snapshot``: one file per service, written atomically, read back or a named error;
- ``flusher``: the save schedule (every second after a change, and at stop);
- ``services``: LocalStack's SQS, SNS, EventBridge and IAM, inside LocalStack's process;
- ``tables``: the DynamoDB process's tables;
- ``restore``: putting a snapshot back, and what each service needs after that.
"""

from eda_sandbox.persistence.flusher import Flusher
from eda_sandbox.persistence.snapshot import HEADER, encode, read, write

__all__ = ["HEADER", "Flusher", "encode", "read", "write"]
