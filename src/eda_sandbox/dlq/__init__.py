"""Dead-letter queue tools: ``eda-sandbox dlq`` and the ``dlq`` pytest fixture."""

from eda_sandbox.dlq.operations import DeadLetter, DeadLetterQueue, DeadLetterQueues, MoveProgress

__all__ = ["DeadLetter", "DeadLetterQueue", "DeadLetterQueues", "MoveProgress"]
