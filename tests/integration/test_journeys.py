"""Following one event: the journeys the sandbox records, read through the ``journey``
fixture, the HTTP endpoint and ``eda-sandbox trace``."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from eda_app import publish_event, put_events
from eda_sandbox.cli.main import main as cli
from eda_sandbox.config import JOURNEYS_PATH
from eda_sandbox.journeys.model import HopKind
from eda_sandbox.testing import AwsClients

INNER_FAILING = """
from eda_app import publish_event, put_events

def test_deliberately_failing(aws, correlation_id):
    event = {{"event_type": "user_signup", "correlation_id": correlation_id,
              "user_id": correlation_id, "email": "a@example.com", "name": "Ann"}}
    publish_event(event, topic_arn="{topic}", sns_client=aws.sns)
    assert False, "deliberately failing"
"""


def test_poison_order_journey_ends_in_the_dlq_after_three_receives(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    journey: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    poison = e2e.order(correlation_id, amount=-1)
    publish_event(poison, topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns)

    # Three receives with the handler's 1, 2 and 4 s back-off, then the move.
    seen = journey(correlation_id).wait_until_settled(timeout=45)
    seen.reached("order_consumer").retried(times=2, function="order_consumer")
    seen.dead_lettered("EventQueue-dlq", reason="maxReceiveCount 3 exceeded")
    # Other tests read EventQueue-dlq (looking for their own messages): not our hops.
    kinds = [h.kind for h in seen.hops() if h.resource != "EventQueue-dlq" or h.failed]
    assert kinds[0] == HopKind.PUBLISHED and kinds[-1] == HopKind.DEAD_LETTERED, kinds
    receives = [
        h.detail["receive_count"] for h in seen.hops(HopKind.RECEIVED) if h.resource == "EventQueue"
    ]
    assert receives == [1, 2, 3], receives
    invocations = [h for h in seen.hops(HopKind.INVOKED) if h.resource == "order_consumer"]
    assert len(invocations) == 3, invocations
    assert all(h.failed and h.detail["batch_item_failures"] for h in invocations), invocations

    # The CLI, by the SQS message id, shows the same hops from publish to DLQ.
    message_id = seen.hops(HopKind.ENQUEUED)[0].detail["message_id"]
    assert cli(["trace", message_id]) == 0
    out = capsys.readouterr().out
    for text in ("SNS publish", "SQS enqueue", "receive #3", "dead-lettered", "maxReceiveCount"):
        assert text in out, f"{text!r} missing from `eda-sandbox trace`:\n{out}"


def test_signup_dropped_by_the_queue_filter_shows_the_failed_key(
    e2e: Any, aws: AwsClients, correlation_id: str, journey: Any
) -> None:
    publish_event(
        e2e.signup(correlation_id), topic_arn=e2e.topic_arn("EventTopic"), sns_client=aws.sns
    )
    seen = journey(correlation_id).wait_until_settled(timeout=20)
    seen.filtered_out("EventQueue", key="event_type").reached("user_signup_handler")
    dropped = seen.hops(HopKind.FILTERED_OUT)[0]
    assert dropped.detail["failed_value"] == "user_signup", dropped
    assert "event_type='user_signup'" in (dropped.reason or ""), dropped

    # Over HTTP, by the W3C form of the trace id, for tests in any language.
    (found,) = seen.journeys()
    w3c = found.trace_id.replace("1-", "", 1).replace("-", "") if found.trace_id else ""
    url = f"{e2e.aws.endpoint_url}{JOURNEYS_PATH}/{w3c}"
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert [j["id"] for j in answer["journeys"]] == [found.id], answer


def test_an_order_below_the_rule_minimum_names_the_pattern_key(
    e2e: Any, aws: AwsClients, correlation_id: str, journey: Any
) -> None:
    bus = e2e.topology["buses"]["app-bus"]["arn"]
    put_events([e2e.order(correlation_id, amount=-1)], bus_name=bus, events_client=aws.events)
    seen = journey(correlation_id).wait_until_settled(timeout=10)
    seen.not_matched("OrderPlaced", key="detail.amount")
    assert not seen.hops(HopKind.INVOKED), seen.text()


def test_a_failing_tests_report_contains_its_journey(pytester: pytest.Pytester, e2e: Any) -> None:
    pytester.makepyfile(test_inner=INNER_FAILING.format(topic=e2e.topic_arn("EventTopic")))
    result = pytester.runpytest_inprocess("--sandbox=external", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*journey of *deliberately_failing-*",
            "*SNS publish EventTopic*",
            "*filtered out sqs:EventQueue*event_type='user_signup'*",
        ]
    )
