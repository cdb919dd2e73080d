"""Execution roles for ad-hoc test functions, with the permissions each test grants.

With IAM enforced (``--enforce-iam``), a function may call only what its role allows, as
on AWS; a test's function therefore gets its own role with the statements the test names,
and the role is deleted with the function.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from eda_sandbox.config import IAM_OPT_IN_TAG
from eda_sandbox.topology.resources.iam import TRUST_POLICY  # the one Lambda trust policy

POLICY_NAME = "test-permissions"


class TestRoles:
    """Creates roles with one inline policy each, and deletes them all at the end."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, iam: Any) -> None:
        self.iam = iam
        self.created: list[str] = []

    def create(
        self, name: str, statements: Sequence[Mapping[str, Any]], *, enforce: bool = False
    ) -> str:
        """A role named ``name`` whose inline policy holds ``statements``; its ARN.
        ``enforce``: tagged so that the sandbox checks its sessions even when it does not
        enforce IAM for every role."""
        tags = {"Tags": [{"Key": IAM_OPT_IN_TAG, "Value": "true"}]} if enforce else {}
        arn: str = self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY), **tags
        )["Role"]["Arn"]
        self.created.append(name)
        document = {"Version": "2012-10-17", "Statement": [dict(s) for s in statements]}
        self.iam.put_role_policy(
            RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(document)
        )
        return arn

    def delete_all(self) -> None:
        for name in reversed(self.created):
            with contextlib.suppress(self.iam.exceptions.NoSuchEntityException):
                self.iam.delete_role_policy(RoleName=name, PolicyName=POLICY_NAME)
            with contextlib.suppress(self.iam.exceptions.NoSuchEntityException):
                self.iam.delete_role(RoleName=name)
        self.created.clear()
