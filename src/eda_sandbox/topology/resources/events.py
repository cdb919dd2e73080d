"""EventBridge buses and rules (a rule carries its targets)."""

from __future__ import annotations

import json
from typing import Any

from eda_sandbox.topology.resources.base import (
    Context,
    Resource,
    SpecResource,
    absent_on,
    canonical,
    missing_tags,
    tag_list,
)
from eda_sandbox.topology.schema import Rule


class BusResource(Resource):
    kind = "bus"
    level = 0

    def read(self, ctx: Context) -> dict[str, Any] | None:
        events = ctx.clients.events
        found = absent_on(
            lambda: events.describe_event_bus(Name=self.name), "ResourceNotFoundException"
        )
        if found is None:
            return None
        tags = events.list_tags_for_resource(ResourceARN=found["Arn"]).get("Tags", [])
        return {"arn": found["Arn"], "tags": {t["Key"]: t["Value"] for t in tags}}

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        return ["tags"] if missing_tags(ctx.names.tags(), current["tags"]) else []

    def create(self, ctx: Context) -> None:
        ctx.clients.events.create_event_bus(Name=self.name, Tags=tag_list(ctx.names.tags()))

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        ctx.clients.events.tag_resource(ResourceARN=current["arn"], Tags=tag_list(ctx.names.tags()))

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        ctx.clients.events.delete_event_bus(Name=self.name)


class RuleResource(SpecResource[Rule]):
    kind = "rule"
    level = 3

    def _bus(self, ctx: Context) -> str:
        return ctx.names.bus(self.spec.bus)

    def targets(self, ctx: Context) -> dict[str, dict[str, Any]]:
        """Target Id (the function's logical name) -> target, as EventBridge returns it."""
        out = {}
        for target in self.spec.targets:
            item: dict[str, Any] = {
                "Id": target.function,
                "Arn": ctx.names.function_arn(target.function),
            }
            if target.retry is not None:
                item["RetryPolicy"] = {
                    "MaximumRetryAttempts": target.retry.maximum_retry_attempts,
                    "MaximumEventAgeInSeconds": target.retry.maximum_event_age_seconds,
                }
            if target.dlq is not None:
                item["DeadLetterConfig"] = {"Arn": ctx.names.queue_arn(target.dlq)}
            out[target.function] = item
        return out

    def read(self, ctx: Context) -> dict[str, Any] | None:
        events, bus = ctx.clients.events, self._bus(ctx)
        rule = absent_on(
            lambda: events.describe_rule(Name=self.name, EventBusName=bus),
            "ResourceNotFoundException",
        )
        if rule is None:
            return None
        targets = events.list_targets_by_rule(Rule=self.name, EventBusName=bus)["Targets"]
        tags = events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags", [])
        return {
            "rule": rule,
            "targets": {t["Id"]: t for t in targets},
            "tags": {t["Key"]: t["Value"] for t in tags},
        }

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        rule, changes = current["rule"], []
        if canonical(rule.get("EventPattern") or "{}") != canonical(self.spec.pattern):
            changes.append("pattern")
        if rule.get("State") != ("ENABLED" if self.spec.enabled else "DISABLED"):
            changes.append("state")
        if (rule.get("Description") or None) != self.spec.description:
            changes.append("description")
        have = current["targets"]
        for tid, want in self.targets(ctx).items():
            got = {k: have.get(tid, {}).get(k) for k in want}
            if canonical(got) != canonical(want):
                changes.append(f"{'~' if tid in have else '+'}target {tid}")
        changes += [f"-target {tid}" for tid in have if tid not in self.targets(ctx)]
        if missing_tags(ctx.names.tags(), current["tags"]):
            changes.append("tags")
        return changes

    def _put_rule(self, ctx: Context, tags: bool) -> None:
        kwargs: dict[str, Any] = {
            "Name": self.name,
            "EventBusName": self._bus(ctx),
            "EventPattern": json.dumps(self.spec.pattern),
            "State": "ENABLED" if self.spec.enabled else "DISABLED",
        }
        if self.spec.description:
            kwargs["Description"] = self.spec.description
        if tags:
            kwargs["Tags"] = tag_list(ctx.names.tags())
        ctx.clients.events.put_rule(**kwargs)

    def create(self, ctx: Context) -> None:
        self._put_rule(ctx, tags=True)
        ctx.clients.events.put_targets(
            Rule=self.name, EventBusName=self._bus(ctx), Targets=list(self.targets(ctx).values())
        )

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        events, bus = ctx.clients.events, self._bus(ctx)
        if {"pattern", "state", "description"} & set(changes):
            self._put_rule(ctx, tags=False)
        if any(c.startswith(("+target", "~target")) for c in changes):
            events.put_targets(
                Rule=self.name, EventBusName=bus, Targets=list(self.targets(ctx).values())
            )
        extra = [tid for tid in current["targets"] if tid not in self.targets(ctx)]
        if extra:
            events.remove_targets(Rule=self.name, EventBusName=bus, Ids=extra)
        if "tags" in changes:
            events.tag_resource(ResourceARN=current["rule"]["Arn"], Tags=tag_list(ctx.names.tags()))

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        events, bus = ctx.clients.events, self._bus(ctx)
        if current["targets"]:
            events.remove_targets(Rule=self.name, EventBusName=bus, Ids=list(current["targets"]))
        events.delete_rule(Name=self.name, EventBusName=bus)
