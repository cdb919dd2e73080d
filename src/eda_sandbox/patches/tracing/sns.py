"""Journey hops of SNS: the publish, each subscription's filter decision, the delivery.

Wraps (LocalStack 2026.3.0):

- ``SnsProvider.publish`` / ``SnsProvider.publish_batch``: the trace header of the
  request (the gateway's trace context, created when the producer sent none);
- ``PublishDispatcher.publish_to_topic``: the publish itself (topic, MessageId,
  attributes), before the subscriptions are looked at;
- ``PublishDispatcher.publish_batch_to_topic``: the same for each PublishBatch entry; the
  entries share the request's trace but are journeys of their own (as PutEvents entries);
- ``PublishDispatcher._should_publish``: where the filter policy decides, per
  subscription; a "no" is evaluated again key by key to name the key and value that
  failed (upstream only answers yes or no);
- ``TopicPublisher.publish``: the delivery to one subscriber, on SNS's worker thread.
  An SQS or Lambda delivery is shown by the hop it makes (the enqueue, the asynchronous
  invoke), so only other protocols get a delivery hop of their own. With no
  ``X-Amzn-Trace-Id`` from the producer, the journey's trace header is handed to the
  subscriber as AWS does with active tracing, so SQS stores it as the message's
  ``AWSTraceHeader`` system attribute. A PublishBatch reaches an SQS subscriber as one
  batch context (one SendMessageBatch); its message ids are handed to the SQS wrapper on
  this thread, which links each entry's enqueue to its message;
- ``sns_error_to_dead_letter_queue``: a delivery that failed into the subscription's DLQ.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from eda_sandbox.journeys.model import HopKind
from eda_sandbox.patches.tracing.base import (
    Instrumentor,
    arg,
    attribute_value,
    enabled,
    linked,
    short_name,
    simple_attributes,
    thread_set,
    thread_value,
)

_PUBLISHER = "localstack.services.sns.publisher"
_MISSING = "<missing>"
# Protocols whose delivery records its own next hop (SQS enqueue, Lambda async invoke).
_FOLLOWED = frozenset({"sqs", "lambda"})


def subscription_name(subscriber: dict[str, Any]) -> str:
    """``sqs:EventQueue``, ``lambda:user_signup_handler``: protocol and endpoint name."""
    return f"{subscriber.get('Protocol', '?')}:{short_name(subscriber.get('Endpoint'))}"


def failed_filter_key(
    policy: dict[str, Any], scope: str, attributes: dict[str, Any], body: str | None
) -> tuple[str, str]:
    """The first policy key whose conditions the message fails, and the message's value."""
    from localstack.services.sns.filter import SubscriptionFilter

    check = SubscriptionFilter()
    if scope != "MessageBody":
        for key, conditions in policy.items():
            if key.startswith("$or"):
                continue
            if not check.check_filter_policy_on_message_attributes({key: conditions}, attributes):
                return key, attribute_value(attributes, key) or _MISSING
        return "$or", _MISSING
    try:
        payload = json.loads(body or "")
    except ValueError:
        return "(body)", "not a JSON object"
    if not isinstance(payload, dict):
        return "(body)", "not a JSON object"
    return _failed_body_key(check, policy, payload, "")


def _failed_body_key(
    check: Any, policy: dict[str, Any], payload: Any, prefix: str
) -> tuple[str, str]:
    for key, conditions in policy.items():
        if key.startswith("$or"):
            continue
        path = f"{prefix}{key}"
        if check._evaluate_nested_filter_policy_on_dict({key: conditions}, payload=payload):
            continue
        value = payload.get(key, _MISSING) if isinstance(payload, dict) else _MISSING
        if isinstance(conditions, dict) and isinstance(value, dict):
            return _failed_body_key(check, conditions, value, f"{path}.")
        return path, value if isinstance(value, str) else json.dumps(value)
    return prefix.rstrip(".") or "$or", _MISSING


def _trace_header() -> str | None:
    """The publish request's trace header (set by the ``SnsProvider`` wrappers)."""
    header = thread_value("sns_trace_header")
    return header.to_header_str() if header is not None else None


class SnsInstrumentor(Instrumentor):
    TARGETS = (
        ("localstack.services.sns.provider", "SnsProvider.publish", "_patched_sns_publish"),
        (
            "localstack.services.sns.provider",
            "SnsProvider.publish_batch",
            "_patched_sns_publish_batch",
        ),
        (_PUBLISHER, "PublishDispatcher.publish_to_topic", "_patched_publish_to_topic"),
        (
            _PUBLISHER,
            "PublishDispatcher.publish_batch_to_topic",
            "_patched_publish_batch_to_topic",
        ),
        (_PUBLISHER, "PublishDispatcher._should_publish", "_patched_should_publish"),
        (_PUBLISHER, "TopicPublisher.publish", "_patched_topic_publisher_publish"),
        (_PUBLISHER, "sns_error_to_dead_letter_queue", "_patched_sns_error_to_dead_letter_queue"),
    )

    def _patched_sns_publish(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        context = arg(args, kwargs, 0, "context")
        header = getattr(context, "trace_context", {}).get("aws_trace_header")
        with thread_set("sns_trace_header", header):
            return wrapped(*args, **kwargs)

    # PublishBatch's request carries its trace header the same way.
    _patched_sns_publish_batch = _patched_sns_publish

    def _patched_publish_to_topic(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        ctx = arg(args, kwargs, 0, "ctx")
        message = ctx.message
        self._published(arg(args, kwargs, 1, "topic_arn"), message, _trace_header(), True)
        with linked(message.message_id):
            return wrapped(*args, **kwargs)

    def _patched_publish_batch_to_topic(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        ctx = arg(args, kwargs, 0, "ctx")
        topic_arn = arg(args, kwargs, 1, "topic_arn")
        header = _trace_header()
        for index, message in enumerate(ctx.messages):
            # The request's first entry may continue a journey (a function's own
            # PublishBatch); the others share its trace but are messages of their own.
            self._published(topic_arn, message, header, index == 0)
        # Not linked: each entry's filter and delivery hops name their own message id.
        return wrapped(*args, **kwargs)

    def _published(
        self, topic_arn: str, message: Any, trace_header: str | None, join_trace: bool
    ) -> None:
        attributes = message.message_attributes or {}
        self.record(
            HopKind.PUBLISHED,
            short_name(topic_arn),
            keys=(message.message_id,),
            correlation_ids=(attribute_value(attributes, "correlation_id"),),
            trace_header=trace_header,
            new=True,
            join_trace=join_trace,
            message_id=message.message_id,
            topic_arn=topic_arn,
            attributes=simple_attributes(attributes),
            message_group_id=message.message_group_id,
        )

    def _patched_should_publish(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        if not enabled() or result is None:  # None: an unconfirmed subscription
            return result
        policies = arg(args, kwargs, 0, "subscription_filter_policy") or {}
        message = arg(args, kwargs, 1, "message_ctx")
        subscriber = arg(args, kwargs, 2, "subscriber")
        policy = policies.get(subscriber["SubscriptionArn"])
        name = subscription_name(subscriber)
        common = {
            "keys": (message.message_id,),
            "message_id": message.message_id,
            "subscription_arn": subscriber["SubscriptionArn"],
            "policy": policy,
        }
        if result:
            token = f"sns:{message.message_id}:{subscriber['SubscriptionArn']}"
            self.record(HopKind.FILTER_MATCHED, name, opens=(token,), **common)
            return result
        scope = subscriber.get("FilterPolicyScope", "MessageAttributes")
        key, value = failed_filter_key(
            policy or {},
            scope,
            message.message_attributes or {},
            message.message_content(subscriber["Protocol"]) if scope == "MessageBody" else None,
        )
        self.record(
            HopKind.FILTERED_OUT,
            name,
            reason=f"{key}={value!r} does not match {json.dumps((policy or {}).get(key))}",
            failed_key=key,
            failed_value=value,
            scope=scope,
            **common,
        )
        return result

    def _patched_topic_publisher_publish(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        context = arg(args, kwargs, 0, "context")
        subscriber = arg(args, kwargs, 1, "subscriber")
        message = getattr(context, "message", None)
        if message is None and hasattr(context, "messages"):
            return self._publish_batch(wrapped, context, subscriber, args, kwargs)
        message_id = getattr(message, "message_id", None)
        args, kwargs = self._with_trace_header(message_id, context, subscriber, args, kwargs)
        with linked(message_id):
            try:
                return wrapped(*args, **kwargs)
            finally:
                self._settle(subscriber, message_id)

    def _publish_batch(
        self,
        wrapped: Any,
        context: Any,
        subscriber: dict[str, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """One delivery of several messages (SQS's SendMessageBatch): not linked, since
        each entry is a journey of its own; the SQS wrapper reads the ids instead."""
        message_ids = tuple(m.message_id for m in context.messages)
        first = message_ids[0] if message_ids else None
        args, kwargs = self._with_trace_header(first, context, subscriber, args, kwargs)
        # In the order of the batch's entries, which is the order of context.messages.
        with thread_set("sns_batch_ids", message_ids):
            try:
                return wrapped(*args, **kwargs)
            finally:
                for message_id in message_ids:
                    self._settle(subscriber, message_id)

    def _with_trace_header(
        self,
        message_id: str | None,
        context: Any,
        subscriber: dict[str, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The call's arguments, with the journey's trace header for the subscriber when
        the producer sent none."""
        trace = self.store.trace_of(message_id) if message_id else None
        headers = getattr(context, "request_headers", None)
        if not trace or headers is None or "X-Amzn-Trace-Id" in headers:
            return args, kwargs
        # A copy: one publish context serves every subscriber of the topic.
        context = dataclasses.replace(
            context, request_headers={**headers, "X-Amzn-Trace-Id": f"Root={trace};Sampled=1"}
        )
        return (), {**kwargs, "context": context, "subscriber": subscriber}

    def _settle(self, subscriber: dict[str, Any], message_id: str | None) -> None:
        """The delivery is done: its next hop shows it, or it gets a hop of its own."""
        token = f"sns:{message_id}:{subscriber['SubscriptionArn']}"
        if subscriber.get("Protocol") in _FOLLOWED and message_id:
            self.store.close(message_id, (token,))
        else:
            self._delivered(subscriber, message_id, token)

    def _delivered(self, subscriber: dict[str, Any], message_id: str | None, token: str) -> None:
        self.record(
            HopKind.DELIVERED,
            subscription_name(subscriber),
            keys=(message_id,),
            closes=(token,),
            message_id=message_id,
            endpoint=subscriber.get("Endpoint"),
        )

    def _patched_sns_error_to_dead_letter_queue(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        # Upstream sends to the DLQ with a SendMessageBatch of its own, inside a batch
        # delivery: its entry must not be taken for the batch's first message.
        with thread_set("sns_batch_ids", ()):
            result = wrapped(*args, **kwargs)
        subscriber = arg(args, kwargs, 0, "sns_subscriber")
        error = arg(args, kwargs, 2, "error_message")
        attributes = subscriber.get("RedrivePolicy") if isinstance(subscriber, dict) else None
        target = json.loads(attributes).get("deadLetterTargetArn") if attributes else None
        self.record(
            HopKind.DEAD_LETTERED,
            short_name(target) if target else subscription_name(subscriber),
            failed=True,
            reason=f"SNS delivery failed: {error}",
            dlq_arn=target,
            subscription_arn=subscriber.get("SubscriptionArn"),
        )
        return result
