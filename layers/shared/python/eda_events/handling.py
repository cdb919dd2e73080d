"""What every handler wraps around its own work: once per key, outcomes logged and counted.

Built on aws-lambda-powertools (Logger, Metrics, idempotency, batch), which each function
packages itself; the handlers keep only their parsing, their write and their AWS shapes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BasePartialBatchProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from eda_events.models import InvalidEvent, idempotency_key, peek_ids
from eda_events.retry_backoff import retry_failed_soon


def once(
    work: Callable[..., Any],
    *,
    argument: str,
    key: str,
    subject: str,
    logger: Logger,
    metrics: Metrics,
) -> tuple[Callable[..., Any], IdempotencyConfig]:
    """``work`` run at most once per key, in the IDEMPOTENCY_TABLE (Powertools idempotency).

    ``key`` is a JMESPath into the keyword ``argument``. A call whose work raises leaves no
    record, so a failure is retried. The handler passes each invocation's context to the
    returned config's ``register_lambda_context``, so an in-progress record expires with
    the invocation's deadline.
    """

    def on_duplicate(response: Any, record: DataRecord) -> Any:
        # Runs only when the store already holds a completed result.
        logger.info(
            f"duplicate {subject} skipped", extra={"idempotency_key": record.idempotency_key}
        )
        metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=1)
        return response

    config = IdempotencyConfig(
        event_key_jmespath=key, raise_on_no_idempotency_key=True, response_hook=on_duplicate
    )
    persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
    wrapped = idempotent_function(
        work, data_keyword_argument=argument, persistence_store=persistence, config=config
    )
    return wrapped, config


@contextmanager
def counted(subject: str, logger: Logger, metrics: Metrics) -> Iterator[None]:
    """Log and count a rejected (:class:`InvalidEvent`) or failed event; the error propagates.

    Re-raised so that the caller's failure path runs: the batch processor reports the
    record, or an asynchronous invocation fails into Lambda's retries and on-failure queue.
    """
    try:
        yield
    except InvalidEvent as e:
        logger.error(f"{subject} rejected", extra={"reason": str(e), "field": e.field})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        raise
    except Exception:
        logger.exception(f"{subject} processing failed")
        metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
        raise


def sqs_correlation_id(record: Any) -> str | None:
    """The correlation id of an SQS record (Powertools ``SQSRecord``).

    The body is the first choice; a body too broken to parse may still have arrived with
    the SNS message attribute (raw delivery copies attributes onto the message).
    """
    _, from_body = peek_ids(record.body)
    if from_body is not None:
        return from_body
    attribute = record.message_attributes["correlation_id"]
    return attribute.string_value if attribute is not None else None


def sqs_work(record: Any) -> dict[str, str]:
    """The idempotent step's input for an SQS record: its body, keyed by its event id
    (or message id, see :func:`eda_events.models.idempotency_key`)."""
    return {
        "idempotency_key": idempotency_key(record.body, record.message_id),
        "body": record.body,
    }


class SqsBatch:
    """An SQS consumer's batch: records through ``processor``, failures retried soon.

    ``SOURCE_QUEUE_URL`` and ``FAILED_RECORD_RETRY_SECONDS`` (see :mod:`.retry_backoff`)
    come from the environment; unset, or 0 seconds, leaves retries to the queue's
    visibility timeout.
    """

    def __init__(
        self,
        processor: BasePartialBatchProcessor,
        record_handler: Callable[[Any], Any],
        logger: Logger,
        record_keys: Sequence[str],
        sqs: Any,
    ) -> None:
        self.processor = processor
        self.record_handler = record_handler
        self.logger = logger
        self.record_keys = list(record_keys)
        self.sqs = sqs
        self.queue_url = os.environ.get("SOURCE_QUEUE_URL", "")
        self.retry_seconds = int(os.environ.get("FAILED_RECORD_RETRY_SECONDS", "0"))

    def process(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        response = process_partial_response(
            event=event,
            record_handler=self.record_handler,
            processor=self.processor,
            context=context,
        )
        # Record keys stay until the next record replaces them, so the processor's own
        # failure bookkeeping is logged with the failing record's ids; not past the batch.
        self.logger.remove_keys(self.record_keys)
        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        self.logger.info(
            "batch processed", extra={"records": len(event.get("Records", [])), "failed": failed}
        )
        retry_failed_soon(self.sqs, self.queue_url, event, failed, self.retry_seconds, self.logger)
        return response
