"""Helpers for integration tests of event-driven systems (also exposed as pytest fixtures)."""

from eda_sandbox.testing.aws import AwsClients
from eda_sandbox.testing.listener import EventsListener
from eda_sandbox.testing.logs import wait_for_log
from eda_sandbox.testing.sqs import (
    ReceivedMessage,
    allow_topic,
    assert_in_dlq,
    assert_not_received,
    receive_until,
)
from eda_sandbox.testing.waits import wait_until

__all__ = [
    "AwsClients",
    "EventsListener",
    "ReceivedMessage",
    "allow_topic",
    "assert_in_dlq",
    "assert_not_received",
    "receive_until",
    "wait_for_log",
    "wait_until",
]
