"""order_consumer: orders from SQS EventQueue into ORDERS_TABLE, one record at a time.

Partial batch failures: a bad record is reported in batchItemFailures and only it
returns to the queue, after a short backoff (eda_events.retry_backoff). Each record is
processed at most once per event id (Powertools idempotency in IDEMPOTENCY_TABLE).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from domain import parse_order_body
from eda_events.handling import SqsBatch, counted, once, sqs_correlation_id, sqs_work
from eda_events.models import order_update

SERVICE = "order_consumer"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_orders_table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def _process(work: dict[str, str]) -> dict[str, str]:
    order = parse_order_body(work["body"])
    _orders_table.update_item(**order_update(order, written_at=time.time()))
    logger.info("order stored", extra={"order_id": order.order_id, "event_id": order.event_id})
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {"order_id": order.order_id, "event_id": order.event_id}


# Typed alias: the wrapper returns Any.
_process_once: Callable[..., dict[str, str]]
_process_once, _idempotency_config = once(
    _process,
    argument="work",
    key="idempotency_key",
    subject="order",
    logger=logger,
    metrics=metrics,
)


def _record_handler(record: SQSRecord) -> dict[str, str]:
    logger.append_keys(correlation_id=sqs_correlation_id(record), message_id=record.message_id)
    with counted("order", logger, metrics):
        return _process_once(work=sqs_work(record))


# All records failing is still a partial response (every id listed), not an exception:
# same redelivery, but the invocation's outcome stays uniform and readable.
_batch = SqsBatch(
    BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
    _record_handler,
    logger,
    record_keys=["correlation_id", "message_id"],
    sqs=boto3.client("sqs"),
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _idempotency_config.register_lambda_context(context)
    return _batch.process(event, context)
