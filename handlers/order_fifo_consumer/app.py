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
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from domain import parse_sequenced_order, sequence_update
from eda_events.handling import SqsBatch, counted, once, sqs_correlation_id, sqs_work

SERVICE = "order_fifo_consumer"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_sequences_table = boto3.resource("dynamodb").Table(os.environ["SEQUENCES_TABLE"])


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


# Typed alias: the wrapper returns Any.
_process_once: Callable[..., dict[str, Any]]
_process_once, _idempotency_config = once(
    _process,
    argument="work",
    key="idempotency_key",
    subject="order",
    logger=logger,
    metrics=metrics,
)


def _record_handler(record: SQSRecord) -> dict[str, Any]:
    logger.append_keys(
        correlation_id=sqs_correlation_id(record),
        message_id=record.message_id,
        message_group_id=record.attributes.message_group_id,
    )
    # A failure fails this record and, through the processor, the rest of its group.
    with counted("order", logger, metrics):
        return _process_once(work=sqs_work(record))


_processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# The constructor does not take this option; when every record fails, report them all
# as a partial response instead of raising, as order_consumer does.
_processor.raise_on_entire_batch_failure = False
_batch = SqsBatch(
    _processor,
    _record_handler,
    logger,
    record_keys=["correlation_id", "message_id", "message_group_id"],
    sqs=boto3.client("sqs"),
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _idempotency_config.register_lambda_context(context)
    return _batch.process(event, context)
