"""IAM policy evaluation for one request: AWS's order, AWS's matching.

Used by the sandbox's enforcement (``patches/iam/``, a function's identity policies) and
by EventBridge's deliveries (``patches/events/policy.py``, a target's resource policy for
a service principal). What AWS's evaluation logic does, and what this module does:

- an explicit ``Deny`` that applies wins, else an ``Allow`` that applies allows, else the
  request is denied implicitly;
- ``Action``/``NotAction`` match case-insensitively with ``*`` and ``?``; ``Resource``/
  ``NotResource`` match case-sensitively with the same wildcards (ARN matching: a
  wildcard may span ``:`` and ``/``, as IAM's does);
- conditions: the ``String*``, ``Arn*`` and ``Null`` operators, with ``...IfExists``;
  condition keys are case-insensitive; a key the request does not carry fails a positive
  operator and passes a negated one, as in IAM. An operator this module does not know
  makes its statement fail closed (an Allow does not apply, a Deny does).

Hand-written because no kept library evaluates a request this way. moto's
``moto.iam.access_control.IAMPolicy`` (behind moto's ``INITIAL_NO_AUTH_ACTION_COUNT``
auth) was checked for reuse and differs from IAM where it matters here
(``tests/unit/iam/test_iam_evaluation.py`` shows each case): it matches actions
case-sensitively and ``?`` literally, treats an ``Allow`` whose condition does not hold
as an explicit deny, ignores ``NotResource``, and lets a ``Deny`` without ``Resource``
permit. LocalStack core evaluates no policy (its ``SimulatePrincipalPolicy`` compares
strings); policy_sentry and parliament write and lint policies, they do not evaluate them.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

Statement = Mapping[str, Any]


class Decision(enum.Enum):
    """The outcome of evaluating a request against a set of policies."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE if ignore_case else 0)


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


def matches_any(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    """Whether one IAM wildcard pattern (``*``, ``?``) of ``patterns`` covers ``value``."""
    return any(_wildcard(p, ignore_case).match(value) for p in patterns)


def _element(statement: Statement, name: str, value: str, *, ignore_case: bool) -> bool:
    """Whether ``Action``/``Resource`` (or its ``Not`` form) covers ``value``; absent: yes."""
    if name in statement:
        return matches_any(_values(statement[name]), value, ignore_case=ignore_case)
    if f"Not{name}" in statement:
        return not matches_any(_values(statement[f"Not{name}"]), value, ignore_case=ignore_case)
    return True


_POSITIVE = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
_NEGATIONS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _test(operator: str, expected: list[str], actual: str | None) -> bool | None:
    """One condition test; None for an operator this module does not evaluate."""
    if operator == "Null":
        return (actual is None) == (expected[:1] == ["true"])
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    positive = _NEGATIONS.get(base, base)
    if positive not in _POSITIVE:
        return None
    if actual is None:
        return if_exists or base in _NEGATIONS
    if positive in ("StringEquals", "ArnEquals"):
        found = actual in expected
    elif positive == "StringEqualsIgnoreCase":
        found = actual.lower() in {e.lower() for e in expected}
    else:
        found = matches_any(expected, actual, ignore_case=False)
    return not found if base in _NEGATIONS else found


def condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """Whether every test of a ``Condition`` block holds; None when one cannot be evaluated."""
    keys = {k.lower(): v for k, v in context.items()}
    verdict: bool | None = True
    for operator, tests in condition.items():
        if not isinstance(tests, Mapping):
            return None
        for key, raw in tests.items():
            result = _test(operator, _values(raw), keys.get(key.lower()))
            if result is False:
                return False
            if result is None:
                verdict = None
    return verdict


@functools.lru_cache(maxsize=1024)
def _parsed(document: str) -> tuple[Statement, ...]:
    # IAM's API hands documents out URL-encoded (LocalStack's store keeps them so).
    text = unquote(document) if document.lstrip().startswith("%7B") else document
    return _listed(json.loads(text))


def _listed(document: Any) -> tuple[Statement, ...]:
    if not isinstance(document, Mapping):
        return ()
    statements = document.get("Statement", [])
    listed = statements if isinstance(statements, list) else [statements]
    return tuple(s for s in listed if isinstance(s, Mapping))


def statements(policy: Any) -> tuple[Statement, ...]:
    """The statements of ``policy``: a document, its JSON (URL-encoded or not) or None."""
    if not policy:
        return ()
    if isinstance(policy, bytes):
        policy = policy.decode()
    if isinstance(policy, str):
        return _parsed(policy)
    return _listed(policy)


def decide(
    policies: Iterable[Any],
    *,
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
    principal: Callable[[Statement], bool] | None = None,
) -> Decision:
    """Evaluate ``action`` on ``resource`` against ``policies`` (documents or their JSON).

    ``principal``: for resource policies, whether a statement's ``Principal`` names the
    caller (statements it rejects do not apply); identity policies have no ``Principal``.
    """
    context = context or {}
    allowed = False
    for policy in policies:
        for statement in statements(policy):
            if principal is not None and not principal(statement):
                continue
            if not _element(statement, "Action", action, ignore_case=True):
                continue
            if not _element(statement, "Resource", resource, ignore_case=False):
                continue
            effect = statement.get("Effect")
            holds = condition_holds(statement.get("Condition") or {}, context)
            if effect == "Deny" and holds is not False:  # fails closed
                return Decision.EXPLICIT_DENY
            if effect == "Allow" and holds is True:
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
