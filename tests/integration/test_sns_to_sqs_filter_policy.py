"""EventTopic's EventQueue subscription lets order_placed through and nothing else.

A negative ("never arrives") is proven with a positive control published after it, never
with a sleep: once the control has come through the same path, a message that had
passed the filter would have come through too.
"""

from __future__ import annotations

from typing import Any

from eda_app import publish_event
from eda_sandbox.testing import AwsClients, allow_topic, assert_not_received


def test_signup_never_reaches_event_queue_while_a_later_order_does(
    e2e: Any, aws: AwsClients, correlation_id: str
) -> None:
    """Observed on the REAL subscription: EventQueue's only reader is order_consumer,
    which logs every record it gets with the record's correlation_id ("order stored" or
    "order rejected"; a signup would be rejected for its event_type). So once the control
    order, published after the signup with the same correlation id, is stored, the
    function's log records for that correlation id must be the control's alone. The
    signup reaching Users proves it was published and matched the other subscription.
    """
    topic = e2e.topic_arn("EventTopic")
    signup = e2e.signup(correlation_id)
    control = e2e.order(correlation_id)
    publish_event(signup, topic_arn=topic, sns_client=aws.sns)
    publish_event(control, topic_arn=topic, sns_client=aws.sns)

    e2e.wait_for_item("Orders", {"order_id": control["order_id"]})
    e2e.wait_for_item("Users", {"user_id": signup["user_id"]})
    e2e.wait_for_log_record(
        "order_consumer", "order stored", lambda r: r.get("order_id") == control["order_id"]
    )

    seen = [
        r
        for r in e2e.log_records("order_consumer", correlation_id)
        if r.get("correlation_id") == correlation_id
    ]
    foreign = [r for r in seen if r.get("event_id") != control["event_id"]]
    rejected = [r for r in seen if r.get("message") == "order rejected"]
    assert not foreign and not rejected, (
        f"only the control order {control['event_id']} should have reached EventQueue; "
        f"order_consumer logged for {correlation_id}: {seen}"
    )
    assert e2e.get_item("Orders", {"order_id": signup["user_id"]}) is None


def test_real_subscription_filter_copied_onto_a_probe_queue(
    e2e: Any,
    aws: AwsClients,
    correlation_id: str,
    sqs_create_queue: Any,
    receive_until: Any,
) -> None:
    """A direct look at "reaches the queue": a private queue subscribed to the REAL topic
    with the REAL subscription's filter attributes, read from SNS (not from the
    topology file), so a drifted policy on the real subscription fails here too."""
    topic = e2e.topic_arn("EventTopic")
    event_queue_arn = e2e.topology["queues"]["EventQueue"]["arn"]
    subscriptions = aws.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    real = next((s for s in subscriptions if s["Endpoint"] == event_queue_arn), None)
    assert real is not None, f"no EventQueue subscription on {topic}: {subscriptions}"
    attributes = aws.sns.get_subscription_attributes(SubscriptionArn=real["SubscriptionArn"])[
        "Attributes"
    ]
    copied = {
        k: attributes[k]
        for k in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery")
        if k in attributes
    }
    assert "FilterPolicy" in copied, f"the real subscription has no filter policy: {attributes}"

    probe_url = sqs_create_queue()
    probe_arn = allow_topic(aws.sqs, probe_url, topic)  # as AWS needs, and enforced IAM
    subscription = aws.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=probe_arn,
        Attributes=copied,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    try:
        signup = e2e.signup(correlation_id)
        control = e2e.order(correlation_id)
        publish_event(signup, topic_arn=topic, sns_client=aws.sns)
        publish_event(control, topic_arn=topic, sns_client=aws.sns)

        def control_arrives() -> object:
            return receive_until(
                probe_url, match=lambda m: control["event_id"] in m.body, timeout=10
            )

        # Nothing else reads the probe queue: what the filter let through is still there.
        assert_not_received(aws.sqs, probe_url, signup["event_id"], control=control_arrives)
    finally:
        aws.sns.unsubscribe(SubscriptionArn=subscription)
