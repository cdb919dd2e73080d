"""A role's policy as statements the check can match calls against, with AWS's matching.

Matching follows IAM: an action matches case-insensitively, with ``*`` and ``?``
wildcards; a resource ARN matches case-sensitively with the same wildcards. Only Allow
statements exist in the policies the topology builds, so no Deny is evaluated here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any


@functools.cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def action_matches(pattern: str, action: str) -> bool:
    return _pattern(pattern, True).fullmatch(action) is not None


def resource_matches(pattern: str, arn: str) -> bool:
    return _pattern(pattern, False).fullmatch(arn) is not None


def has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


@dataclass(frozen=True)
class Statement:
    """One Allow statement, and where it comes from in the topology."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # Index into the function's ``permissions`` for declared statements; None for the
    # statements the engine derives from wiring (log group, source queue, on-failure).
    permission: int | None

    def allows(self, action: str, arn: str | None) -> bool:
        if not any(action_matches(a, action) for a in self.actions):
            return False
        return arn is None or any(resource_matches(r, arn) for r in self.resources)


def statements(document: dict[str, Any]) -> list[Statement]:
    out = []
    for raw in document.get("Statement", []):
        if raw.get("Effect") != "Allow":
            continue
        actions = raw.get("Action", [])
        resources = raw.get("Resource", [])
        sid = str(raw.get("Sid", ""))
        declared = re.fullmatch(r"Declared(\d+)", sid)
        out.append(
            Statement(
                sid,
                tuple([actions] if isinstance(actions, str) else actions),
                tuple([resources] if isinstance(resources, str) else resources),
                int(declared.group(1)) if declared else None,
            )
        )
    return out
