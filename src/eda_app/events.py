"""The event envelope every producer enforces, and the encodings the services receive.

Only the envelope is checked here (a JSON object, a known ``event_type``, ids). The
payload schema is the consumers' business: tests publish invalid orders on purpose to
drive the failure paths, so producers must let them through.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from eda_app.errors import InvalidEventError, MessageTooLargeError
from eda_sandbox.limits import EVENTBRIDGE_MAX_REQUEST_BYTES, putevents_entry_size

EVENT_TYPES = ("user_signup", "order_placed")
ID_FIELDS = ("event_id", "correlation_id")
# SNS caps a message at 256 KiB; EventBridge a PutEvents request at 1 MiB
# (eda_sandbox.limits cites AWS's documents).
MAX_MESSAGE_BYTES = 256 * 1024
MAX_PUTEVENTS_BYTES = EVENTBRIDGE_MAX_REQUEST_BYTES
EVENTBRIDGE_SOURCE = "my.application"
EVENTBRIDGE_DETAIL_TYPE = "application.event"


def prepare_event(message: object) -> dict[str, Any]:
    """A copy of ``message`` with ``event_id`` and ``correlation_id`` filled in (uuid4).

    Raises :class:`InvalidEventError` naming the field when the envelope is wrong.
    """
    if not isinstance(message, Mapping):
        raise InvalidEventError(
            "message", f"must be a JSON object (dict), not {type(message).__name__}"
        )
    event = dict(message)
    if "event_type" not in event:
        raise InvalidEventError("event_type", "is missing")
    if event["event_type"] not in EVENT_TYPES:
        raise InvalidEventError(
            "event_type", f"{event['event_type']!r} is not one of {', '.join(EVENT_TYPES)}"
        )
    for field in ID_FIELDS:
        value = event.get(field)
        if value is None:
            event[field] = str(uuid.uuid4())
        elif not isinstance(value, str) or not value.strip():
            raise InvalidEventError(field, f"must be a non-empty string, got {value!r}")
    return event


def encode(event: Mapping[str, Any]) -> str:
    """Compact JSON; refuses what is not strict JSON (NaN, sets, objects) by field name."""
    try:
        return json.dumps(event, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidEventError("message", f"is not JSON-serializable: {e}") from e


def sns_attributes(event: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The message attributes subscriptions filter and correlate on."""
    return {
        name: {"DataType": "String", "StringValue": str(event[name])}
        for name in ("event_type", *ID_FIELDS)
    }


def sns_size(body: str, attributes: Mapping[str, Mapping[str, str]]) -> int:
    """Bytes SNS counts against its limit: the body plus every attribute's name, type, value."""
    size = len(body.encode())
    for name, attribute in attributes.items():
        size += len(name.encode()) + len(attribute["DataType"].encode())
        size += len(attribute["StringValue"].encode())
    return size


def check_sns_size(body: str, attributes: Mapping[str, Mapping[str, str]], event_id: str) -> None:
    size = sns_size(body, attributes)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLargeError(f"SNS message for event {event_id}", size, MAX_MESSAGE_BYTES)


def eventbridge_entry_size(entry: Mapping[str, Any]) -> int:
    """PutEvents entry size as EventBridge documents it (Time, Source, DetailType, Detail,
    Resources; the bus name does not count)."""
    return putevents_entry_size(entry)
