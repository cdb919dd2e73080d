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
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from domain import parse_message, signup_payload, welcome_update
from models import InvalidEvent, Signup, peek_ids

SERVICE = "user_signup_handler"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EdaSandbox", service=SERVICE)

# Module scope: created once per execution environment, reused by every invocation.
# No endpoint_url: boto3 reads AWS_ENDPOINT_URL, which the sandbox sets.
_users_table = boto3.resource("dynamodb").Table(os.environ["USERS_TABLE"])
_persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


def _on_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Runs only when the idempotency store already holds a completed result."""
    logger.info(
        "duplicate signup skipped", extra={"idempotency_key": idempotent_data.idempotency_key}
    )
    metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=1)
    return response


_idempotency_config = IdempotencyConfig(
    event_key_jmespath="event_id",
    raise_on_no_idempotency_key=True,
    response_hook=_on_duplicate,
)


def _welcome(payload: dict[str, Any]) -> dict[str, str]:
    signup = Signup(**payload)
    _users_table.update_item(**welcome_update(signup))
    logger.info("welcome stored", extra={"user_id": signup.user_id, "event_id": signup.event_id})
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    return {"user_id": signup.user_id, "event_id": signup.event_id}


# Typed alias: idempotent_function returns Any. The key is taken from the payload,
# and a call whose function raises leaves no record, so a failure is retried.
_welcome_once: Callable[..., dict[str, str]] = idempotent_function(
    _welcome,
    data_keyword_argument="payload",
    persistence_store=_persistence,
    config=_idempotency_config,
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
    try:
        signup = parse_message(record.sns.message)
        result = _welcome_once(payload=signup_payload(signup))
    except InvalidEvent as e:
        logger.error("signup rejected", extra={"reason": str(e), "field": e.field})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        raise
    except Exception:
        # Re-raised so the invocation fails and async retries / on-failure take over.
        logger.exception("signup processing failed")
        metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
        raise
    return result


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    _idempotency_config.register_lambda_context(context)
    # SNS delivers one record per invocation; the loop is for the documented shape.
    return {"processed": [_handle_record(record) for record in event.records]}
