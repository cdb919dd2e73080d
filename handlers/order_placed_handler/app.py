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
from aws_lambda_powertools.utilities.typing import LambdaContext
from domain import order_payload, parse_detail
from eda_events.handling import counted, once
from eda_events.models import Order, ids_of, order_update

SERVICE = "order_placed_handler"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_placed_orders_table = boto3.resource("dynamodb").Table(os.environ["PLACED_ORDERS_TABLE"])


def _store(payload: dict[str, Any]) -> dict[str, str]:
    order = Order(**payload)
    _placed_orders_table.update_item(**order_update(order, written_at=time.time()))
    logger.info("order stored", extra={"order_id": order.order_id, "event_id": order.event_id})
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {"order_id": order.order_id, "event_id": order.event_id}


# Typed alias: the wrapper returns Any.
_store_once: Callable[..., dict[str, str]]
_store_once, _idempotency_config = once(
    _store, argument="payload", key="event_id", subject="order", logger=logger, metrics=metrics
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, str]:
    _idempotency_config.register_lambda_context(context)
    _, correlation_id = ids_of(event.detail)
    logger.set_correlation_id(correlation_id)
    logger.append_keys(eventbridge_id=event.get_id, detail_type=event.detail_type)
    with counted("order", logger, metrics):
        return _store_once(payload=order_payload(parse_detail(event.detail)))
