"""An offline take on AWS IATK's event listener: capture what a bus routes, then wait on it.

It creates a temporary SQS queue and a rule with the given pattern on the bus, targets
the queue, and removes all three on ``close()``.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from eda_sandbox.testing.sqs import ReceivedMessage, receive_until

EventMatch = Callable[[dict[str, Any]], bool] | str


class EventsListener:
    def __init__(self, events: Any, sqs: Any, bus: str, pattern: dict[str, Any]) -> None:
        self.events = events
        self.sqs = sqs
        self.bus = bus
        self.pattern = pattern
        suffix = uuid.uuid4().hex[:10]
        self.rule_name = f"eda-listener-{suffix}"
        self.queue_name = f"eda-listener-{suffix}"
        self.seen: list[dict[str, Any]] = []
        self.queue_url = sqs.create_queue(QueueName=self.queue_name)["QueueUrl"]
        self.queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        try:
            self.rule_arn = events.put_rule(
                Name=self.rule_name, EventBusName=bus, EventPattern=json.dumps(pattern)
            )["RuleArn"]
            sqs.set_queue_attributes(
                QueueUrl=self.queue_url,
                Attributes={"Policy": json.dumps(self._policy())},
            )
            events.put_targets(
                Rule=self.rule_name,
                EventBusName=bus,
                Targets=[{"Id": "listener", "Arn": self.queue_arn}],
            )
        except Exception:
            self.close()
            raise

    def _policy(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": self.queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": self.rule_arn}},
                }
            ],
        }

    def wait_for(self, match: EventMatch, timeout: float = 10.0) -> dict[str, Any]:
        """The first captured event that ``match`` accepts (a callable or a substring)."""

        def accept(msg: ReceivedMessage) -> bool:
            event = msg.parsed if isinstance(msg.parsed, dict) else {}
            self.seen.append(event)
            if isinstance(match, str):
                return match in msg.body
            return bool(match(event))

        found = receive_until(self.sqs, self.queue_url, count=1, match=accept, timeout=timeout)
        event: dict[str, Any] = found[0].parsed
        return event

    def close(self) -> None:
        with contextlib.suppress(self.events.exceptions.ResourceNotFoundException):
            self.events.remove_targets(Rule=self.rule_name, EventBusName=self.bus, Ids=["listener"])
        with contextlib.suppress(self.events.exceptions.ResourceNotFoundException):
            self.events.delete_rule(Name=self.rule_name, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)

    def __enter__(self) -> EventsListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
