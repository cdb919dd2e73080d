"""One IAM role per function, with a single inline least-privilege policy.

The policy is the function's declared ``permissions`` plus what its wiring implies:
writing to its own log group, consuming its event-source queue, sending to its async
on-failure queue. Nothing else (no logs:CreateLogGroup: the log group is ours).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from eda_sandbox.topology.naming import Names
from eda_sandbox.topology.resources.base import (
    Context,
    SpecResource,
    absent_on,
    canonical,
    missing_tags,
    tag_list,
)
from eda_sandbox.topology.schema import Function

POLICY_NAME = "least-privilege"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
CONSUME_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]


def _document(value: Any) -> str:
    # IAM returns policy documents URL-encoded; boto3 usually decodes them already.
    if isinstance(value, str) and value.startswith("%7B"):
        value = unquote(value)
    return canonical(value)


def role_policy(
    names: Names, logical: str, spec: Function, queue_urls: Mapping[str, str]
) -> dict[str, Any]:
    """The inline policy of ``logical``'s role (the IAM check reads it from here too)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{names.log_group_arn(logical)}:*"],
        }
    ]
    for i, perm in enumerate(spec.permissions):
        statements.append(
            {
                "Sid": f"Declared{i}",
                "Effect": "Allow",
                "Action": list(perm.actions),
                "Resource": [names.resolve(r, queue_urls) for r in perm.resources],
            }
        )
    if spec.sources:
        statements.append(
            {
                "Sid": "ConsumeSourceQueue",
                "Effect": "Allow",
                "Action": CONSUME_ACTIONS,
                "Resource": [names.queue_arn(s.queue) for s in spec.sources],
            }
        )
    if spec.async_invocation is not None and spec.async_invocation.on_failure is not None:
        statements.append(
            {
                "Sid": "OnFailureDestination",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [names.queue_arn(spec.async_invocation.on_failure)],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


class RoleResource(SpecResource[Function]):
    kind = "role"
    level = 0

    def policy(self, ctx: Context) -> dict[str, Any]:
        return role_policy(ctx.names, self.logical, self.spec, ctx.queue_urls)

    def read(self, ctx: Context) -> dict[str, Any] | None:
        iam = ctx.clients.iam
        found = absent_on(lambda: iam.get_role(RoleName=self.name), "NoSuchEntity")
        if found is None:
            return None
        role = found["Role"]
        inline = absent_on(
            lambda: iam.get_role_policy(RoleName=self.name, PolicyName=POLICY_NAME),
            "NoSuchEntity",
        )
        return {
            "trust": role.get("AssumeRolePolicyDocument"),
            "policy": inline["PolicyDocument"] if inline else None,
            "tags": {t["Key"]: t["Value"] for t in role.get("Tags", [])},
        }

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        changes = []
        if _document(current["trust"] or "{}") != canonical(TRUST_POLICY):
            changes.append("trust policy")
        if current["policy"] is None or _document(current["policy"]) != canonical(self.policy(ctx)):
            changes.append("inline policy")
        if missing_tags(ctx.names.tags(), current["tags"]):
            changes.append("tags")
        return changes

    def _put_policy(self, ctx: Context) -> None:
        ctx.clients.iam.put_role_policy(
            RoleName=self.name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(self.policy(ctx))
        )

    def create(self, ctx: Context) -> None:
        ctx.clients.iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description=f"Lambda {ctx.names.function(self.logical)} (eda-sandbox topology)",
            Tags=tag_list(ctx.names.tags()),
        )
        self._put_policy(ctx)

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        iam = ctx.clients.iam
        if "trust policy" in changes:
            iam.update_assume_role_policy(
                RoleName=self.name, PolicyDocument=json.dumps(TRUST_POLICY)
            )
        if "inline policy" in changes:
            self._put_policy(ctx)
        if "tags" in changes:
            iam.tag_role(RoleName=self.name, Tags=tag_list(ctx.names.tags()))

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        iam = ctx.clients.iam
        for name in iam.list_role_policies(RoleName=self.name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=self.name, PolicyName=name)
        attached = iam.list_attached_role_policies(RoleName=self.name)["AttachedPolicies"]
        for policy in attached:
            iam.detach_role_policy(RoleName=self.name, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=self.name)
