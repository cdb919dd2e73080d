"""user_signup_handler: user_signup events from SNS EventTopic into USERS_TABLE.

Invoked asynchronously by SNS. An invalid event raises, so Lambda's async retries and
then the function's on-failure destination take over. A valid event is written at most
once per event id.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.data_classes.sns_event import SNSEventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from domain import parse_message, signup_payload, welcome_update
from eda_events.handling import counted, once
from eda_events.models import Signup, peek_ids

SERVICE = "user_signup_handler"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_users_table = boto3.resource("dynamodb").Table(os.environ["USERS_TABLE"])


def _welcome(payload: dict[str, Any]) -> dict[str, str]:
    signup = Signup(**payload)
    _users_table.update_item(**welcome_update(signup))
    logger.info("welcome stored", extra={"user_id": signup.user_id, "event_id": signup.event_id})
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {"user_id": signup.user_id, "event_id": signup.event_id}


# Typed alias: the wrapper returns Any.
_welcome_once: Callable[..., dict[str, str]]
_welcome_once, _idempotency_config = once(
    _welcome, argument="payload", key="event_id", subject="signup", logger=logger, metrics=metrics
)


def _correlation_id(record: SNSEventRecord) -> str | None:
    # Body first; a body too broken to parse may still carry the message attribute.
    _, from_body = peek_ids(record.sns.message)
    if from_body is not None:
        return from_body
    attribute = record.sns.raw_event.get("MessageAttributes", {}).get("correlation_id", {})
    value = attribute.get("Value")
    return value if isinstance(value, str) else None


def _handle_record(record: SNSEventRecord) -> dict[str, str]:
    logger.set_correlation_id(_correlation_id(record))
    logger.append_keys(sns_message_id=record.sns.message_id)
    with counted("signup", logger, metrics):
        return _welcome_once(payload=signup_payload(parse_message(record.sns.message)))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    _idempotency_config.register_lambda_context(context)
    # SNS delivers one record per invocation; the loop is for the documented shape.
    return {"processed": [_handle_record(record) for record in event.records]}
