"""Resource-based policy evaluation for a service principal (EventBridge's deliveries).

Hand-written because no kept library evaluates a resource policy for a service principal
with its condition keys: moto's ``IAMPolicy`` ignores ``ArnLike``, passes conditions whose
key is absent and treats a statement for another principal as an explicit deny;
LocalStack core does not enforce policies at all. What AWS's evaluation logic does for a
request by a service principal, and what this module does:

- an explicit ``Deny`` that applies wins, else an ``Allow`` that applies allows, else the
  request is denied (a service principal has no identity policies of its own);
- ``Principal`` matches ``"*"``, ``{"AWS": "*"}`` or ``{"Service": <principal>}``;
- ``Action``/``NotAction`` match case-insensitively with ``*`` and ``?``, ``Resource``/
  ``NotResource`` case-sensitively;
- conditions: the ``String*``, ``Arn*`` and ``Null`` operators, with ``...IfExists``;
  condition keys are case-insensitive; a key the request does not carry fails a positive
  operator and passes a negated one, as in IAM. An operator this module does not know
  makes its statement fail closed (an Allow does not apply, a Deny does).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any


@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE if ignore_case else 0)


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


def _matches_any(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    return any(_wildcard(p, ignore_case).match(value) for p in patterns)


def _principal_matches(statement: Mapping[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if "*" in _values(principal.get("AWS")):
        return True
    return service in _values(principal.get("Service"))


def _element(statement: Mapping[str, Any], name: str, value: str, *, ignore_case: bool) -> bool:
    """Whether ``Action``/``Resource`` (or its ``Not`` form) covers ``value``; absent: yes."""
    if name in statement:
        return _matches_any(_values(statement[name]), value, ignore_case=ignore_case)
    if f"Not{name}" in statement:
        return not _matches_any(_values(statement[f"Not{name}"]), value, ignore_case=ignore_case)
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
        found = _matches_any(expected, actual, ignore_case=False)
    return not found if base in _NEGATIONS else found


def _condition(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
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


def _statements(policy: Any) -> list[Mapping[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str | bytes) else policy
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement", [])
    listed = statements if isinstance(statements, list) else [statements]
    return [s for s in listed if isinstance(s, Mapping)]


def allows(
    policy: Any, *, service: str, action: str, resource: str, context: Mapping[str, str]
) -> bool:
    """Whether ``policy`` (a document, its JSON or None) lets ``service`` do ``action`` on
    ``resource`` for a request carrying the condition keys in ``context``."""
    allowed = False
    for statement in _statements(policy) if policy else []:
        if not _principal_matches(statement, service):
            continue
        if not _element(statement, "Action", action, ignore_case=True):
            continue
        if not _element(statement, "Resource", resource, ignore_case=False):
            continue
        effect = statement.get("Effect")
        condition = statement.get("Condition") or {}
        holds = _condition(condition, context)
        if effect == "Deny" and holds is not False:  # fails closed
            return False
        if effect == "Allow" and holds is True:
            allowed = True
    return allowed
