"""How a journey reads in the terminal and in a failure report."""

from __future__ import annotations

from eda_sandbox.journeys.model import Hop, HopKind, Journey
from eda_sandbox.journeys.render import as_text, hop_line, summary_line


def _journey() -> Journey:
    hops = [
        Hop(HopKind.PUBLISHED, 100.0, "EventTopic", detail={"message_id": "sns-1"}),
        Hop(
            HopKind.FILTERED_OUT,
            100.001,
            "sqs:EventQueue",
            reason="event_type='user_signup' does not match [\"order_placed\"]",
        ),
        Hop(
            HopKind.DEAD_LETTERED,
            110.5,
            "EventQueue-dlq",
            failed=True,
            reason="maxReceiveCount 3 exceeded on EventQueue",
            detail={"receive_count": 3},
        ),
    ]
    return Journey(id="1-a-b", trace_id="1-a-b", correlation_ids={"cid"}, hops=hops)


def test_the_timeline_shows_each_hop_with_its_offset_and_reason() -> None:
    text = as_text([_journey()])
    lines = text.splitlines()
    assert "trace 1-a-b, correlation cid" in lines[0]
    assert "+  0.000s SNS publish EventTopic (message id sns-1)" in lines[1]
    assert "filtered out sqs:EventQueue event_type='user_signup'" in lines[2]
    assert "+ 10.500s dead-lettered EventQueue-dlq (after 3 receives)" in lines[3]
    assert "maxReceiveCount 3 exceeded" in text


def test_failures_are_red_and_drops_yellow() -> None:
    journey = _journey()
    assert "[red]dead-lettered[/]" in hop_line(journey.hops[2], 100.0)
    assert "[yellow]filtered out[/]" in hop_line(journey.hops[1], 100.0)
    assert "[green]SNS publish[/]" in hop_line(journey.hops[0], 100.0)


def test_one_line_per_journey() -> None:
    line = summary_line(_journey())
    assert "SNS publish EventTopic -> dead-lettered EventQueue-dlq" in line
    assert "3 hops, correlation cid" in line and line.count("\n") == 0
