"""order_placed_handler: order_placed events from the app-bus rule into PLACED_ORDERS_TABLE.

Invoked asynchronously by EventBridge. An invalid event raises, so Lambda's async retries
and then the function's on-failure destination take over. A valid event is written at
most once per event id.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from domain import order_payload, parse_detail, placed_order_update
from models import InvalidEvent, Order, ids_of

SERVICE = "order_placed_handler"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_placed_orders_table = boto3.resource("dynamodb").Table(os.environ["PLACED_ORDERS_TABLE"])
_persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


def _on_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Runs only when the idempotency store already holds a completed result."""
    logger.info(
        "duplicate order skipped", extra={"idempotency_key": idempotent_data.idempotency_key}
    )
    metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=1)
    return response


_idempotency_config = IdempotencyConfig(
    event_key_jmespath="event_id",
    raise_on_no_idempotency_key=True,
    response_hook=_on_duplicate,
)


def _store(payload: dict[str, Any]) -> dict[str, str]:
    order = Order(**payload)
    _placed_orders_table.update_item(**placed_order_update(order, written_at=time.time()))
    logger.info("order stored", extra={"order_id": order.order_id, "event_id": order.event_id})
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {"order_id": order.order_id, "event_id": order.event_id}


# Typed alias: idempotent_function returns Any. The key is taken from the payload,
# and a call whose function raises leaves no record, so a failure is retried.
_store_once: Callable[..., dict[str, str]] = idempotent_function(
    _store,
    data_keyword_argument="payload",
    persistence_store=_persistence,
    config=_idempotency_config,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, str]:
    _idempotency_config.register_lambda_context(context)
    _, correlation_id = ids_of(event.detail)
    logger.set_correlation_id(correlation_id)
    logger.append_keys(eventbridge_id=event.get_id, detail_type=event.detail_type)
    try:
        order = parse_detail(event.detail)
        return _store_once(payload=order_payload(order))
    except InvalidEvent as e:
        logger.error("order rejected", extra={"reason": str(e), "field": e.field})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        raise
    except Exception:
        # Re-raised so the invocation fails and async retries / on-failure take over.
        logger.exception("order processing failed")
        metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
        raise
