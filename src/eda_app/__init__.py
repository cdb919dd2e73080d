"""Producers of the reference event-driven application (library and ``python -m eda_app``)."""

from __future__ import annotations

from eda_app.errors import (
    EdaAppError,
    FailedEntry,
    InvalidEventError,
    MessageTooLargeError,
    OutputsError,
    PublishError,
    PutEventsError,
)
from eda_app.events import prepare_event
from eda_app.producers import publish_event, publish_order, put_events

__all__ = [
    "EdaAppError",
    "FailedEntry",
    "InvalidEventError",
    "MessageTooLargeError",
    "OutputsError",
    "PublishError",
    "PutEventsError",
    "prepare_event",
    "publish_event",
    "publish_order",
    "put_events",
]
