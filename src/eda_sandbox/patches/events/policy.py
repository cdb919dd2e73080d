"""Resource-based policy evaluation for a service principal (EventBridge's deliveries).

The evaluation itself (AWS's order, wildcards, conditions) is ``eda_sandbox.iam.evaluation``,
shared with the sandbox's identity-policy enforcement; this module adds what a resource
policy has and an identity policy has not: ``Principal``, which matches ``"*"``,
``{"AWS": "*"}`` or ``{"Service": <principal>}``. A service principal has no identity
policies of its own, so what the resource policy does not allow is denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eda_sandbox.iam.evaluation import Statement, decide


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


def _principal_matcher(service: str) -> Any:
    def matches(statement: Statement) -> bool:
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if not isinstance(principal, Mapping):
            return False
        if "*" in _values(principal.get("AWS")):
            return True
        return service in _values(principal.get("Service"))

    return matches


def allows(
    policy: Any, *, service: str, action: str, resource: str, context: Mapping[str, str]
) -> bool:
    """Whether ``policy`` (a document, its JSON or None) lets ``service`` do ``action`` on
    ``resource`` for a request carrying the condition keys in ``context``."""
    decision = decide(
        [policy],
        action=action,
        resource=resource,
        context=context,
        principal=_principal_matcher(service),
    )
    return decision.allowed
