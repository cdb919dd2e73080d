"""Who a request comes from, and the identity policies of that role, from LocalStack's stores.

A Lambda function's environment holds the credentials LocalStack's Lambda service got by
assuming the function's role (``sts:AssumeRole``, session named after the function), as
AWS gives a function its role's session. LocalStack's STS keeps every temporary key it
issued with the assumed-role ARN (``sts_stores``), so the key in a request's
``Authorization`` header names the role; its policies are read from LocalStack's IAM store,
which the topology engine wrote (``PutRolePolicy``, ``AttachRolePolicy``). Dictionary
look-ups only, no API call per request.

Other keys (``test``, an account id, LocalStack's internal ``__internal_call__``) are no
role session: those callers stay unchecked.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eda_sandbox.config import IAM_OPT_IN_TAG

LOG = logging.getLogger(__name__)
# Temporary keys: LocalStack's own prefix, and AWS's (LocalStack issues these under
# PARITY_AWS_ACCESS_KEY_ID).
SESSION_KEY_PREFIXES = ("LSIA", "ASIA")
OPT_IN_TAG = IAM_OPT_IN_TAG.lower()


@dataclass(frozen=True)
class RoleSession:
    """A role session a request is made with."""

    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    account: str
    role_name: str

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name}"


def session_for(access_key: str | None) -> RoleSession | None:
    """The role session LocalStack issued ``access_key`` for; None for any other key."""
    if not access_key or not access_key.startswith(SESSION_KEY_PREFIXES):
        return None
    # A key's session never changes, and decoding the key's account was half the check.
    found = _sessions.get(access_key)
    if found is None:
        found = _look_up(access_key)
        if found is not None and len(_sessions) < MAX_SESSIONS:
            _sessions[access_key] = found
    return found


MAX_SESSIONS = 10_000
_sessions: dict[str, RoleSession] = {}


def _look_up(access_key: str) -> RoleSession | None:
    from localstack.aws.accounts import get_account_id_from_access_key_id
    from localstack.services.sts.models import sts_stores

    # LocalStack files every temporary key under the account encoded in it, in us-east-1.
    account = get_account_id_from_access_key_id(access_key)
    credentials = sts_stores[account]["us-east-1"].credentials.get(access_key)
    if credentials is None:
        return None
    arn = credentials.arn
    if ":assumed-role/" not in arn:
        return None  # a federated user or a session token: no role to read
    role_name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    return RoleSession(arn=arn, account=credentials.account_id, role_name=role_name)


def opted_in(role_arn: str) -> bool:
    """Whether the role carries the tag ``eda-sandbox:enforce-iam=true``: its sessions are
    checked even when the sandbox does not enforce IAM for every role."""
    from localstack.services.iam.models import iam_stores

    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    if not account:
        return False
    tags = iam_stores[account]["us-east-1"].TAGS.get_tags(role_arn) or {}
    return any(k.lower() == OPT_IN_TAG and str(v).lower() == "true" for k, v in dict(tags).items())


def role_policies(session: RoleSession) -> list[Any] | None:
    """The role's identity policies (inline and attached, as documents or their JSON);
    None when the role no longer exists (AWS then refuses its sessions altogether)."""
    from localstack.services.iam.models import iam_stores

    # IAM is global: every region of the account sees the same roles.
    store = iam_stores[session.account]["us-east-1"]
    entity = store.ROLES.get(session.role_name)
    if entity is None:
        return None
    policies: list[Any] = list(entity.inline_policies.values())
    for arn in entity.attached_policy_arns:
        document = _managed_policy(store, arn)
        if document is None:
            LOG.warning("IAM enforcement: policy %s of role %s not found", arn, session.role_name)
            continue
        policies.append(document)
    return policies


def _managed_policy(store: Any, arn: str) -> Any:
    managed = store.MANAGED_POLICIES.get(arn)
    if managed is not None:
        version = managed.policy.get("DefaultVersionId")
        found = managed.versions.get(version)
        return found.get("Document") if found else None
    if ":iam::aws:policy/" in arn:
        return _aws_managed().get(arn.rsplit("/", 1)[-1])
    return None


@functools.cache
def _aws_managed() -> dict[str, Any]:
    """AWS's managed policies by name, from LocalStack's own data set (the one its IAM
    serves ``GetPolicyVersion`` from)."""
    import localstack.services.iam as iam_service

    path = Path(iam_service.__file__).parent / "resources" / "aws_managed_policies.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return {name: entry.get("Document") for name, entry in data.items()}
