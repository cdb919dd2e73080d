"""DynamoDB tables and CloudWatch Logs log groups."""

from __future__ import annotations

from typing import Any

from eda_sandbox.errors import TopologyApplyError
from eda_sandbox.topology.resources.base import (
    Context,
    Resource,
    SpecResource,
    absent_on,
    missing_tags,
    tag_list,
    wait_until,
)
from eda_sandbox.topology.schema import Table


class TableResource(SpecResource[Table]):
    kind = "table"
    level = 0

    def _keys(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        schema = [{"AttributeName": self.spec.partition_key.name, "KeyType": "HASH"}]
        attrs = [
            {
                "AttributeName": self.spec.partition_key.name,
                "AttributeType": self.spec.partition_key.type,
            }
        ]
        if self.spec.sort_key is not None:
            schema.append({"AttributeName": self.spec.sort_key.name, "KeyType": "RANGE"})
            attrs.append(
                {"AttributeName": self.spec.sort_key.name, "AttributeType": self.spec.sort_key.type}
            )
        return schema, attrs

    def read(self, ctx: Context) -> dict[str, Any] | None:
        ddb = ctx.clients.dynamodb
        found = absent_on(
            lambda: ddb.describe_table(TableName=self.name), "ResourceNotFoundException"
        )
        if found is None:
            return None
        table = found["Table"]
        ttl = ddb.describe_time_to_live(TableName=self.name)["TimeToLiveDescription"]
        tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
        return {
            "table": table,
            "ttl": ttl,
            "tags": {t["Key"]: t["Value"] for t in tags},
        }

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        table, ttl = current["table"], current["ttl"]
        changes = []
        schema, _ = self._keys()
        if sorted(table["KeySchema"], key=lambda k: k["KeyType"]) != schema:
            changes.append("key schema (cannot be changed in place)")
        mode = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        if mode != "PAY_PER_REQUEST":
            changes.append("billing mode")
        want_ttl = self.spec.ttl_attribute
        has_ttl = (
            ttl.get("AttributeName")
            if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            else None
        )
        if want_ttl != has_ttl:
            changes.append("ttl")
        if missing_tags(ctx.names.tags(), current["tags"]):
            changes.append("tags")
        return changes

    def _wait_active(self, ctx: Context) -> None:
        def probe() -> bool | None:
            status = ctx.clients.dynamodb.describe_table(TableName=self.name)["Table"][
                "TableStatus"
            ]
            return True if status == "ACTIVE" else None

        wait_until(f"table {self.name} to become ACTIVE", probe, ctx.wait_timeout)

    def _set_ttl(self, ctx: Context, enabled: bool, attribute: str) -> None:
        ctx.clients.dynamodb.update_time_to_live(
            TableName=self.name,
            TimeToLiveSpecification={"Enabled": enabled, "AttributeName": attribute},
        )

    def create(self, ctx: Context) -> None:
        schema, attrs = self._keys()
        ctx.clients.dynamodb.create_table(
            TableName=self.name,
            KeySchema=schema,
            AttributeDefinitions=attrs,
            BillingMode="PAY_PER_REQUEST",
            Tags=tag_list(ctx.names.tags()),
        )
        if self.spec.ttl_attribute:
            self._wait_active(ctx)  # UpdateTimeToLive is refused while CREATING
            self._set_ttl(ctx, True, self.spec.ttl_attribute)

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        ddb = ctx.clients.dynamodb
        if "key schema (cannot be changed in place)" in changes:
            raise TopologyApplyError(
                f"table {self.name}: key schema differs from the declaration; "
                "destroy the table (losing its data) and apply again"
            )
        if "billing mode" in changes:
            ddb.update_table(TableName=self.name, BillingMode="PAY_PER_REQUEST")
            self._wait_active(ctx)
        if "ttl" in changes:
            old = current["ttl"].get("AttributeName")
            if old and old != self.spec.ttl_attribute:
                self._set_ttl(ctx, False, old)
            if self.spec.ttl_attribute:
                self._set_ttl(ctx, True, self.spec.ttl_attribute)
        if "tags" in changes:
            ddb.tag_resource(
                ResourceArn=current["table"]["TableArn"], Tags=tag_list(ctx.names.tags())
            )

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        ctx.clients.dynamodb.delete_table(TableName=self.name)


class LogGroupResource(Resource):
    kind = "log group"
    level = 0

    def __init__(self, logical: str, name: str, retention_days: int) -> None:
        super().__init__(logical, name)
        self.retention_days = retention_days

    def read(self, ctx: Context) -> dict[str, Any] | None:
        logs = ctx.clients.logs
        groups = logs.describe_log_groups(logGroupNamePrefix=self.name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == self.name), None)
        if group is None:
            return None
        tags = logs.list_tags_for_resource(resourceArn=ctx.names.log_group_arn(self.logical)).get(
            "tags", {}
        )
        return {"retention": group.get("retentionInDays"), "tags": tags}

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        changes = []
        if current["retention"] != self.retention_days:
            changes.append(f"retention {current['retention']} -> {self.retention_days} days")
        if missing_tags(ctx.names.tags(), current["tags"]):
            changes.append("tags")
        return changes

    def create(self, ctx: Context) -> None:
        ctx.clients.logs.create_log_group(logGroupName=self.name, tags=ctx.names.tags())
        ctx.clients.logs.put_retention_policy(
            logGroupName=self.name, retentionInDays=self.retention_days
        )

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        logs = ctx.clients.logs
        if current["retention"] != self.retention_days:
            logs.put_retention_policy(logGroupName=self.name, retentionInDays=self.retention_days)
        if "tags" in changes:
            logs.tag_resource(
                resourceArn=ctx.names.log_group_arn(self.logical), tags=ctx.names.tags()
            )

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        ctx.clients.logs.delete_log_group(logGroupName=self.name)
