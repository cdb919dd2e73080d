"""order_consumer: orders from SQS EventQueue into ORDERS_TABLE, one record at a time.

Partial batch failures: a bad record is reported in batchItemFailures and only it
returns to the queue. Each record is processed at most once per event id (Powertools
idempotency in IDEMPOTENCY_TABLE).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from domain import idempotency_key, order_update, parse_order_body
from models import InvalidEvent, peek_ids
from retry_backoff import retry_failed_soon

SERVICE = "order_consumer"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_orders_table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])
_sqs = boto3.client("sqs")
# The source queue, for shortening failed records' visibility (retry_backoff.py); unset or
# FAILED_RECORD_RETRY_SECONDS=0 leaves retries to the queue's visibility timeout.
_SOURCE_QUEUE_URL = os.environ.get("SOURCE_QUEUE_URL", "")
_RETRY_SECONDS = int(os.environ.get("FAILED_RECORD_RETRY_SECONDS", "0"))
_persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


def _on_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Runs only when the idempotency store already holds a completed result."""
    logger.info(
        "duplicate order skipped", extra={"idempotency_key": idempotent_data.idempotency_key}
    )
    metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=1)
    return response


_idempotency_config = IdempotencyConfig(
    event_key_jmespath="idempotency_key",
    raise_on_no_idempotency_key=True,
    response_hook=_on_duplicate,
)
# All records failing is still a partial response (every id listed), not an exception:
# same redelivery, but the invocation's outcome stays uniform and readable.
_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _process(work: dict[str, str]) -> dict[str, str]:
    order = parse_order_body(work["body"])
    _orders_table.update_item(**order_update(order, written_at=time.time()))
    logger.info("order stored", extra={"order_id": order.order_id, "event_id": order.event_id})
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {"order_id": order.order_id, "event_id": order.event_id}


# Typed alias: idempotent_function returns Any. The key is taken from the payload,
# and a call whose function raises leaves no record, so a failure is retried.
_process_once: Callable[..., dict[str, str]] = idempotent_function(
    _process,
    data_keyword_argument="work",
    persistence_store=_persistence,
    config=_idempotency_config,
)


def _correlation_id(record: SQSRecord) -> str | None:
    # The body is the first choice; a body too broken to parse may still have arrived
    # with the SNS message attribute (raw delivery copies attributes onto the message).
    _, from_body = peek_ids(record.body)
    if from_body is not None:
        return from_body
    attribute = record.message_attributes["correlation_id"]
    return attribute.string_value if attribute is not None else None


def _record_handler(record: SQSRecord) -> dict[str, str]:
    # Keys stay until the next record replaces them, so the processor's own failure
    # bookkeeping is logged with this record's ids too.
    logger.append_keys(correlation_id=_correlation_id(record), message_id=record.message_id)
    try:
        return _process_once(
            work={
                "idempotency_key": idempotency_key(record.body, record.message_id),
                "body": record.body,
            }
        )
    except InvalidEvent as e:
        logger.error("order rejected", extra={"reason": str(e), "field": e.field})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        raise
    except Exception:
        # Re-raised: the batch processor turns it into this record's failure.
        logger.exception("order processing failed")
        metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
        raise


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # Lets an in-progress idempotency record expire with this invocation's deadline.
    _idempotency_config.register_lambda_context(context)
    response = process_partial_response(
        event=event, record_handler=_record_handler, processor=_processor, context=context
    )
    logger.remove_keys(["correlation_id", "message_id"])
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    logger.info(
        "batch processed", extra={"records": len(event.get("Records", [])), "failed": failed}
    )
    retry_failed_soon(_sqs, _SOURCE_QUEUE_URL, event, failed, _RETRY_SECONDS, logger)
    return response
