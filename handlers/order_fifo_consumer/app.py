"""order_fifo_consumer: orders from SQS OrderQueue.fifo appended, in order, per customer.

A failing record blocks only its own message group: later records of that group in the
batch are reported failed without being processed (so their order is kept for the
retry), while other groups carry on. Each record is processed at most once per event id.
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
    SqsFifoPartialProcessor,
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
from domain import idempotency_key, parse_sequenced_order, sequence_update
from models import InvalidEvent, peek_ids
from retry_backoff import retry_failed_soon

SERVICE = "order_fifo_consumer"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_sequences_table = boto3.resource("dynamodb").Table(os.environ["SEQUENCES_TABLE"])
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
_processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# The constructor does not take this option; when every record fails, report them all
# as a partial response instead of raising, as order_consumer does.
_processor.raise_on_entire_batch_failure = False


def _process(work: dict[str, str]) -> dict[str, Any]:
    item = parse_sequenced_order(work["body"])
    _sequences_table.update_item(**sequence_update(item, written_at=time.time()))
    logger.info(
        "sequence appended",
        extra={
            "customer_id": item.order.customer_id,
            "seq": item.seq,
            "event_id": item.order.event_id,
        },
    )
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {"customer_id": item.order.customer_id, "seq": item.seq}


# Typed alias: idempotent_function returns Any. The key is taken from the payload,
# and a call whose function raises leaves no record, so a failure is retried.
_process_once: Callable[..., dict[str, Any]] = idempotent_function(
    _process,
    data_keyword_argument="work",
    persistence_store=_persistence,
    config=_idempotency_config,
)


def _correlation_id(record: SQSRecord) -> str | None:
    # Body first; a body too broken to parse may still carry the SNS attribute that raw
    # delivery copied onto the message.
    _, from_body = peek_ids(record.body)
    if from_body is not None:
        return from_body
    attribute = record.message_attributes["correlation_id"]
    return attribute.string_value if attribute is not None else None


def _record_handler(record: SQSRecord) -> dict[str, Any]:
    logger.append_keys(
        correlation_id=_correlation_id(record),
        message_id=record.message_id,
        message_group_id=record.attributes.message_group_id,
    )
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
        # Re-raised: the processor turns it into this record's (and its group's) failure.
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
    logger.remove_keys(["correlation_id", "message_id", "message_group_id"])
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    logger.info(
        "batch processed", extra={"records": len(event.get("Records", [])), "failed": failed}
    )
    retry_failed_soon(_sqs, _SOURCE_QUEUE_URL, event, failed, _RETRY_SECONDS, logger)
    return response
