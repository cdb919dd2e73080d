"""SQS queues, SNS topics and each topic's subscriptions."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from eda_sandbox.topology.resources.base import (
    Context,
    SpecResource,
    absent_on,
    canonical,
    missing_tags,
    tag_list,
)
from eda_sandbox.topology.schema import Queue, Topic

_JSON_ATTRIBUTES = {"RedrivePolicy", "Policy", "FilterPolicy"}
_QUEUE_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def _same(attribute: str, want: str, have: str | None) -> bool:
    if attribute in _JSON_ATTRIBUTES:
        # SQS may echo numbers in a redrive policy as strings; compare values as text.
        def norm(doc: str | None) -> str:
            if not doc:
                return ""
            return canonical(_stringify(json.loads(doc)))

        return norm(want) == norm(have)
    return want == (have or "")


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value if isinstance(value, str) else json.dumps(value)


def _differing(want: dict[str, str], have: dict[str, str]) -> list[str]:
    """Subscription attributes that differ, reading an absent attribute as SNS's default."""
    defaults = {"RawMessageDelivery": "false", "FilterPolicyScope": "MessageAttributes"}
    return [k for k, v in want.items() if not _same(k, v or defaults.get(k, ""), have.get(k))]


class QueueResource(SpecResource[Queue]):
    kind = "queue"

    def __init__(self, logical: str, name: str, spec: Queue) -> None:
        super().__init__(logical, name, spec)
        # A queue with a redrive policy comes after its dead-letter queue.
        self.level = 1 if spec.redrive else 0

    def attributes(self, ctx: Context) -> dict[str, str]:
        names, spec = ctx.names, self.spec
        attrs = {
            "VisibilityTimeout": str(spec.visibility_timeout),
            "MessageRetentionPeriod": str(spec.retention_seconds),
            "ReceiveMessageWaitTimeSeconds": str(spec.receive_wait_seconds),
            "RedrivePolicy": "",
            "Policy": "",
        }
        if self.logical.endswith(".fifo"):
            attrs["ContentBasedDeduplication"] = str(spec.content_based_deduplication).lower()
        if spec.redrive:
            attrs["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": names.queue_arn(spec.redrive.dlq),
                    "maxReceiveCount": spec.redrive.max_receive_count,
                }
            )
        if spec.allow_send_from:
            statements = []
            for sender in spec.allow_send_from:
                if sender.topic is not None:
                    sid, service, arn = (
                        f"topic-{sender.topic}",
                        "sns",
                        names.topic_arn(sender.topic),
                    )
                else:
                    assert sender.rule is not None
                    sid, service, arn = f"rule-{sender.rule}", "events", names.rule_arn(sender.rule)
                statements.append(
                    {
                        "Sid": sid.replace(".", "-"),
                        "Effect": "Allow",
                        "Principal": {"Service": f"{service}.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": names.queue_arn(self.logical),
                        "Condition": {"ArnEquals": {"aws:SourceArn": arn}},
                    }
                )
            attrs["Policy"] = json.dumps({"Version": "2012-10-17", "Statement": statements})
        return attrs

    def read(self, ctx: Context) -> dict[str, Any] | None:
        sqs = ctx.clients.sqs
        found = absent_on(lambda: sqs.get_queue_url(QueueName=self.name), *_QUEUE_MISSING)
        if found is None:
            return None
        url = found["QueueUrl"]
        ctx.queue_urls[self.logical] = url
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        return {"url": url, "attributes": attrs, "tags": tags}

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        have = current["attributes"]
        changes = [k for k, v in self.attributes(ctx).items() if not _same(k, v, have.get(k))]
        if missing_tags(ctx.names.tags(), current["tags"]):
            changes.append("tags")
        return changes

    def create(self, ctx: Context) -> None:
        attrs = {k: v for k, v in self.attributes(ctx).items() if v}
        if self.logical.endswith(".fifo"):
            attrs["FifoQueue"] = "true"
        url = ctx.clients.sqs.create_queue(
            QueueName=self.name, Attributes=attrs, tags=ctx.names.tags()
        )["QueueUrl"]
        ctx.queue_urls[self.logical] = url

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        attrs = self.attributes(ctx)
        changed = {k: attrs[k] for k in changes if k in attrs}
        if changed:
            ctx.clients.sqs.set_queue_attributes(QueueUrl=current["url"], Attributes=changed)
        if "tags" in changes:
            ctx.clients.sqs.tag_queue(QueueUrl=current["url"], Tags=ctx.names.tags())

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        ctx.clients.sqs.delete_queue(QueueUrl=current["url"])


class TopicResource(SpecResource[Topic]):
    kind = "topic"
    level = 0

    def read(self, ctx: Context) -> dict[str, Any] | None:
        sns, arn = ctx.clients.sns, ctx.names.topic_arn(self.logical)
        found = absent_on(lambda: sns.get_topic_attributes(TopicArn=arn), "NotFound")
        if found is None:
            return None
        tags = sns.list_tags_for_resource(ResourceArn=arn).get("Tags", [])
        return {
            "attributes": found["Attributes"],
            "tags": {t["Key"]: t["Value"] for t in tags},
        }

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        changes = []
        if self.logical.endswith(".fifo"):
            want = str(self.spec.content_based_deduplication).lower()
            if current["attributes"].get("ContentBasedDeduplication", "false") != want:
                changes.append("ContentBasedDeduplication")
        if missing_tags(ctx.names.tags(), current["tags"]):
            changes.append("tags")
        return changes

    def create(self, ctx: Context) -> None:
        attrs = {}
        if self.logical.endswith(".fifo"):
            attrs["FifoTopic"] = "true"
            attrs["ContentBasedDeduplication"] = str(self.spec.content_based_deduplication).lower()
        ctx.clients.sns.create_topic(
            Name=self.name, Attributes=attrs, Tags=tag_list(ctx.names.tags())
        )

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        arn = ctx.names.topic_arn(self.logical)
        if "ContentBasedDeduplication" in changes:
            ctx.clients.sns.set_topic_attributes(
                TopicArn=arn,
                AttributeName="ContentBasedDeduplication",
                AttributeValue=str(self.spec.content_based_deduplication).lower(),
            )
        if "tags" in changes:
            ctx.clients.sns.tag_resource(ResourceArn=arn, Tags=tag_list(ctx.names.tags()))

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        ctx.clients.sns.delete_topic(TopicArn=ctx.names.topic_arn(self.logical))


class SubscriptionsResource(SpecResource[Topic]):
    """All subscriptions of one of our topics: declared ones converge, others are removed."""

    kind = "subscriptions"
    level = 3

    def desired(self, ctx: Context) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
        """(protocol, endpoint ARN) -> (label, attributes)."""
        names, out = ctx.names, {}
        for sub in self.spec.subscriptions:
            attrs: dict[str, str] = {"FilterPolicy": "", "RedrivePolicy": ""}
            if sub.queue is not None:
                key, label = ("sqs", names.queue_arn(sub.queue)), f"sqs:{sub.queue}"
                attrs["RawMessageDelivery"] = str(sub.raw_message_delivery).lower()
            else:
                assert sub.function is not None
                key, label = ("lambda", names.function_arn(sub.function)), f"lambda:{sub.function}"
            if sub.filter_policy is not None:
                attrs["FilterPolicy"] = json.dumps(sub.filter_policy)
                attrs["FilterPolicyScope"] = sub.filter_policy_scope
            if sub.dlq is not None:
                attrs["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": names.queue_arn(sub.dlq)}
                )
            out[key] = (label, attrs)
        return out

    def read(self, ctx: Context) -> dict[tuple[str, str], dict[str, Any]] | None:
        sns, arn = ctx.clients.sns, ctx.names.topic_arn(self.logical)
        subs: list[dict[str, Any]] = []
        kwargs: dict[str, str] = {"TopicArn": arn}
        while True:
            page = absent_on(partial(sns.list_subscriptions_by_topic, **kwargs), "NotFound")
            if page is None:
                return None
            subs += page.get("Subscriptions", [])
            if not page.get("NextToken"):
                break
            kwargs = {"TopicArn": arn, "NextToken": page["NextToken"]}
        out = {}
        for sub in subs:
            sub_arn = sub["SubscriptionArn"]
            if not sub_arn.startswith("arn:"):
                continue  # PendingConfirmation: not a subscription yet
            attrs = sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]
            out[(sub["Protocol"], sub["Endpoint"])] = {"arn": sub_arn, "attributes": attrs}
        return out or None

    def _plan(
        self, ctx: Context, current: dict[tuple[str, str], dict[str, Any]]
    ) -> tuple[list[str], list[tuple[str, str]], list[str]]:
        """Human-readable changes, keys to (re)subscribe or update, ARNs to unsubscribe."""
        changes, touch, drop = [], [], []
        for key, (label, attrs) in self.desired(ctx).items():
            have = current.get(key)
            if have is None:
                changes.append(f"+{label}")
                touch.append(key)
                continue
            differ = _differing(attrs, have["attributes"])
            if differ:
                changes.append(f"~{label} {','.join(differ)}")
                touch.append(key)
        for key, have in current.items():
            if key not in self.desired(ctx):
                changes.append(f"-{key[0]}:{key[1].rsplit(':', 1)[-1]}")
                drop.append(have["arn"])
        return changes, touch, drop

    def diff(self, ctx: Context, current: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
        return self._plan(ctx, current)[0]

    def create(self, ctx: Context) -> None:
        self.update(ctx, {}, [])

    def update(
        self, ctx: Context, current: dict[tuple[str, str], dict[str, Any]], changes: list[str]
    ) -> None:
        sns, arn = ctx.clients.sns, ctx.names.topic_arn(self.logical)
        _, touch, drop = self._plan(ctx, current)
        desired = self.desired(ctx)
        for key in touch:
            _, attrs = desired[key]
            if key not in current:
                sns.subscribe(
                    TopicArn=arn,
                    Protocol=key[0],
                    Endpoint=key[1],
                    Attributes={k: v for k, v in attrs.items() if v},
                    ReturnSubscriptionArn=True,
                )
                continue
            have = current[key]
            for name in _differing(attrs, have["attributes"]):
                sns.set_subscription_attributes(
                    SubscriptionArn=have["arn"], AttributeName=name, AttributeValue=attrs[name]
                )
        for sub_arn in drop:
            sns.unsubscribe(SubscriptionArn=sub_arn)

    def delete(self, ctx: Context, current: dict[tuple[str, str], dict[str, Any]]) -> None:
        for have in current.values():
            ctx.clients.sns.unsubscribe(SubscriptionArn=have["arn"])

    def owned(self, ctx: Context, current: Any) -> bool:
        topic = ctx.current.get(("topic", self.logical))
        return topic is not None and super().owned(ctx, topic)
