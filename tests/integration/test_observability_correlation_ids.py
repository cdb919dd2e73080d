"""Each of the four functions logs the correlation id of the event it handled.

The records are Powertools JSON lines in /aws/lambda/<function>; the test finds the one
that reports the result (not merely any line mentioning the id) and checks its
correlation_id key, so a handler that stopped tagging its logs fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from eda_app import publish_event, publish_order, put_events
from eda_sandbox.testing import AwsClients


def _send(flow: str, e2e: Any, aws: AwsClients, correlation_id: str) -> tuple[str, str]:
    """Publish one event for ``flow``; return (result log message, result key value)."""
    if flow == "user_signup_handler":
        event = e2e.signup(correlation_id)
        publish_event(event, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)
        return "welcome stored", event["user_id"]
    event = e2e.order(correlation_id)
    if flow == "order_consumer":
        publish_event(event, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)
        return "order stored", event["order_id"]
    if flow == "order_fifo_consumer":
        event["seq"] = 1
        publish_order(event, topic_arn=e2e.topic_arn("OrderTopic.fifo"), sns_client=aws.sns)
        return "sequence appended", event["customer_id"]
    put_events([event], bus_name=e2e.topology["buses"]["app-bus"]["arn"], events_client=aws.events)
    return "order stored", event["order_id"]


KEYS = {
    "user_signup_handler": "user_id",
    "order_consumer": "order_id",
    "order_fifo_consumer": "customer_id",
    "order_placed_handler": "order_id",
}


@pytest.mark.parametrize("function", list(KEYS))
def test_function_logs_carry_the_correlation_id(
    function: str, e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    message, key = _send(function, e2e, aws, correlation_id)
    record = e2e.wait_for_log_record(
        function, message, lambda r: r.get(KEYS[function]) == key, timeout=20
    )
    assert record.get("correlation_id") == correlation_id, (
        f"{function}'s {message!r} record for {key} should carry correlation_id "
        f"{correlation_id}; it logged {record}"
    )
    assert record.get("service") == function, record
