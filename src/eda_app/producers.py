"""Publish application events: SNS EventTopic, SNS OrderTopic.fifo, EventBridge app-bus.

Every function checks the envelope and the size before any network call, fills in
``event_id``/``correlation_id`` when absent, and returns the event ids it published.
Failures are logged and raised as :mod:`eda_app.errors` types, never swallowed.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from eda_app.errors import (
    FailedEntry,
    InvalidEventError,
    MessageTooLargeError,
    PublishError,
    PutEventsError,
)
from eda_app.events import (
    EVENTBRIDGE_DETAIL_TYPE,
    EVENTBRIDGE_SOURCE,
    MAX_PUTEVENTS_BYTES,
    check_sns_size,
    encode,
    eventbridge_entry_size,
    prepare_event,
    sns_attributes,
)
from eda_app.outputs import Outputs, load_outputs
from eda_sandbox.config import load_settings

logger = logging.getLogger(__name__)

EVENT_TOPIC = "EventTopic"
ORDER_TOPIC = "OrderTopic.fifo"
DEFAULT_BUS = "app-bus"
MAX_ENTRIES_PER_PUT = 10
# Retrying these cannot succeed: the entry itself, or our permissions, are wrong.
PERMANENT_ERROR_CODES = frozenset(
    {
        "AccessDeniedException",
        "InvalidArgument",
        "MalformedDetail",
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeException",
        "ValidationException",
    }
)
# SQS FIFO limits for MessageGroupId / MessageDeduplicationId.
MAX_FIFO_ID_LENGTH = 128


class SnsClient(Protocol):
    def publish(self, **kwargs: Any) -> dict[str, Any]: ...


class EventsClient(Protocol):
    def put_events(self, **kwargs: Any) -> dict[str, Any]: ...


@functools.lru_cache(maxsize=8)
def _client(service: str, region: str, endpoint_url: str, emulator_credentials: bool) -> Any:
    # Cached per arguments: clients are thread-safe and slow to build, and a changed
    # environment gives a new key rather than a stale client.
    if emulator_credentials:
        # The emulator accepts any credentials; without these boto3 would search for
        # some (slowly, via IMDS) and then refuse to sign.
        session = boto3.session.Session(
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - any value works
            region_name=region,
        )
    else:
        session = boto3.session.Session(region_name=region)
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)


def default_client(service: str) -> Any:
    """A boto3 client for the endpoint and region of :func:`eda_sandbox.config.load_settings`.

    Credentials come from the usual chain; when none is configured (no AWS_ACCESS_KEY_ID,
    no AWS_PROFILE), dummy ones are used, as the sandbox accepts any.
    """
    settings = load_settings()
    configured = bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"))
    return _client(service, settings.region, settings.endpoint_url, not configured)


def publish_event(
    message: dict[str, Any],
    *,
    topic_arn: str | None = None,
    sns_client: SnsClient | None = None,
    outputs: Outputs | None = None,
) -> str:
    """Publish one event to SNS EventTopic; returns its ``event_id``.

    Message attributes ``event_type``, ``event_id`` and ``correlation_id`` go with it
    (subscriptions filter on ``event_type``).
    """
    event = prepare_event(message)
    body = encode(event)
    attributes = sns_attributes(event)
    check_sns_size(body, attributes, event["event_id"])
    arn = topic_arn or (outputs or load_outputs()).topic_arn(EVENT_TOPIC)
    client = sns_client or default_client("sns")
    _publish(client, arn, event, TopicArn=arn, Message=body, MessageAttributes=attributes)
    return str(event["event_id"])


def publish_order(
    order: dict[str, Any],
    *,
    topic_arn: str | None = None,
    sns_client: SnsClient | None = None,
    outputs: Outputs | None = None,
) -> str:
    """Publish one order to SNS OrderTopic.fifo; returns its ``event_id``.

    Message group = ``customer_id`` (one customer's orders stay in order), deduplication
    id = ``order_id`` (a re-published order within SQS's 5-minute window is dropped).
    """
    event = prepare_event(order)
    if event["event_type"] != "order_placed":
        raise InvalidEventError("event_type", f"must be 'order_placed' on {ORDER_TOPIC}")
    group_id = _fifo_id(event, "customer_id")
    dedup_id = _fifo_id(event, "order_id")
    body = encode(event)
    attributes = sns_attributes(event)
    check_sns_size(body, attributes, event["event_id"])
    arn = topic_arn or (outputs or load_outputs()).topic_arn(ORDER_TOPIC)
    client = sns_client or default_client("sns")
    _publish(
        client,
        arn,
        event,
        TopicArn=arn,
        Message=body,
        MessageAttributes=attributes,
        MessageGroupId=group_id,
        MessageDeduplicationId=dedup_id,
    )
    return str(event["event_id"])


def _fifo_id(event: dict[str, Any], field: str) -> str:
    value = event.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidEventError(field, f"must be a non-empty string on {ORDER_TOPIC}")
    if len(value) > MAX_FIFO_ID_LENGTH:
        raise InvalidEventError(field, f"is longer than {MAX_FIFO_ID_LENGTH} characters")
    return value


def _publish(client: SnsClient, arn: str, event: dict[str, Any], **request: Any) -> None:
    ids = {"event_id": event["event_id"], "correlation_id": event["correlation_id"]}
    try:
        response = client.publish(**request)
    except (ClientError, BotoCoreError) as e:
        logger.error("SNS publish to %s failed for %s: %s", arn, ids, e)
        raise PublishError(f"SNS publish to {arn} failed for event {event['event_id']}: {e}") from e
    logger.info("published %s to %s as SNS message %s", ids, arn, response.get("MessageId"))


@dataclass
class _Entry:
    index: int
    event_id: str
    request: dict[str, Any]
    size: int


def put_events(
    details: Sequence[dict[str, Any]],
    *,
    bus_name: str = DEFAULT_BUS,
    events_client: EventsClient | None = None,
    outputs: Outputs | None = None,
    max_attempts: int = 4,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Put events on an EventBridge bus; returns their ``event_id`` values in input order.

    Every detail is checked and sized before the first call. Calls carry at most 10
    entries (at most 1 MiB as EventBridge sizes them). Entries EventBridge reports failed
    are retried alone, with exponential backoff, up to ``max_attempts`` calls per batch;
    what still fails is raised as :class:`PutEventsError` after the other batches have been
    sent.
    ``bus_name`` is a logical name from the outputs file, or an ARN.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    entries = [_entry(index, detail) for index, detail in enumerate(details)]
    bus = bus_name if bus_name.startswith("arn:") else (outputs or load_outputs()).bus_arn(bus_name)
    for entry in entries:
        # Added after sizing: the bus name does not count towards the entry size.
        entry.request["EventBusName"] = bus
    client = events_client or default_client("events")

    sent: list[str] = []
    failed: list[FailedEntry] = []
    for batch in _batches(entries):
        batch_sent, batch_failed = _put_batch(
            client, batch, max_attempts, base_delay, max_delay, sleep
        )
        sent.extend(batch_sent)
        failed.extend(batch_failed)
    if failed:
        error = PutEventsError(sorted(failed, key=lambda f: f.index), sent)
        logger.error("PutEvents to %s: %s", bus, error)
        raise error
    logger.info("put %d events on %s", len(sent), bus)
    return [entry.event_id for entry in entries]


def _entry(index: int, detail: dict[str, Any]) -> _Entry:
    try:
        event = prepare_event(detail)
    except InvalidEventError as e:
        # Same error type, but say which of the details it was.
        raise InvalidEventError(f"details[{index}].{e.field}", e.problem) from e
    request = {
        "Source": EVENTBRIDGE_SOURCE,
        "DetailType": EVENTBRIDGE_DETAIL_TYPE,
        "Detail": encode(event),
    }
    size = eventbridge_entry_size(request)
    if size > MAX_PUTEVENTS_BYTES:
        raise MessageTooLargeError(
            f"EventBridge entry #{index} (event {event['event_id']})", size, MAX_PUTEVENTS_BYTES
        )
    return _Entry(index, str(event["event_id"]), request, size)


def _batches(entries: list[_Entry]) -> list[list[_Entry]]:
    """Consecutive groups of at most 10 entries and at most 1 MiB each."""
    batches: list[list[_Entry]] = []
    current: list[_Entry] = []
    current_size = 0
    for entry in entries:
        if current and (
            len(current) == MAX_ENTRIES_PER_PUT or current_size + entry.size > MAX_PUTEVENTS_BYTES
        ):
            batches.append(current)
            current, current_size = [], 0
        current.append(entry)
        current_size += entry.size
    if current:
        batches.append(current)
    return batches


def backoff_delay(attempt: int, base_delay: float, max_delay: float) -> float:
    """Delay before retry ``attempt`` (1-based): exponential, capped, with jitter.

    The jitter (50-100 % of the step) keeps many producers retrying after one throttle
    from hitting the bus again in lockstep.
    """
    step: float = min(max_delay, base_delay * 2.0 ** (attempt - 1))
    return step * random.uniform(0.5, 1.0)


def _put_batch(
    client: EventsClient,
    batch: list[_Entry],
    max_attempts: int,
    base_delay: float,
    max_delay: float,
    sleep: Callable[[float], None],
) -> tuple[list[str], list[FailedEntry]]:
    pending = batch
    sent: list[str] = []
    failed: list[FailedEntry] = []
    last_error: dict[int, tuple[str, str]] = {}
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.put_events(Entries=[entry.request for entry in pending])
        except (ClientError, BotoCoreError) as e:
            # botocore has already retried throttling at the request level; the whole
            # batch is unsent, and reported as such with everything else.
            code = e.response["Error"]["Code"] if isinstance(e, ClientError) else type(e).__name__
            logger.error("PutEvents call failed for %d entries: %s", len(pending), e)
            failed.extend(FailedEntry(x.index, x.event_id, code, str(e)) for x in pending)
            return sent, failed
        results = response.get("Entries", [])
        if len(results) != len(pending):
            raise PublishError(
                f"PutEvents answered {len(results)} entries for {len(pending)} sent; "
                "cannot tell which were accepted"
            )
        retry: list[_Entry] = []
        for entry, result in zip(pending, results, strict=True):
            code = result.get("ErrorCode")
            if not code:
                sent.append(entry.event_id)
                continue
            last_error[entry.index] = (code, result.get("ErrorMessage", ""))
            if code in PERMANENT_ERROR_CODES:
                failed.append(
                    FailedEntry(entry.index, entry.event_id, code, last_error[entry.index][1])
                )
            else:
                retry.append(entry)
        if not retry:
            return sent, failed
        if attempt < max_attempts:
            delay = backoff_delay(attempt, base_delay, max_delay)
            logger.warning(
                "PutEvents: %d entries failed (%s); retrying them in %.2fs (attempt %d of %d)",
                len(retry),
                ", ".join(sorted({last_error[e.index][0] for e in retry})),
                delay,
                attempt + 1,
                max_attempts,
            )
            sleep(delay)
        pending = retry
    failed.extend(FailedEntry(e.index, e.event_id, *last_error[e.index]) for e in pending)
    return sent, failed
