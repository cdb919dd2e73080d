"""The generated policies through parliament, a maintained IAM policy linter.

Each statement is linted as a policy of its own, so a finding names its statement
(parliament reports positions in the JSON text, which is ours, not the user's).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

from eda_sandbox.iam.exceptions import IamToolMissingError


@dataclass(frozen=True)
class LintFinding:
    statement: int  # index in the policy's Statement list
    issue: str  # parliament's code: RESOURCE_STAR, UNKNOWN_ACTION, ...
    severity: str  # parliament's: LOW, MEDIUM, HIGH, CRITICAL
    title: str
    detail: str


def _parliament() -> Any:
    with warnings.catch_warnings():
        # parliament 1.6 imports pkg_resources, which warns that it is deprecated.
        warnings.simplefilter("ignore")
        try:
            import parliament
        except ImportError as e:
            raise IamToolMissingError(
                f"the policy linter is not installed ({e}); install eda-sandbox[iam]"
            ) from e
    return parliament


def lint(document: dict[str, Any]) -> list[LintFinding]:
    parliament = _parliament()
    out = []
    for i, statement in enumerate(document.get("Statement", [])):
        single = {"Version": document.get("Version", "2012-10-17"), "Statement": [statement]}
        policy = parliament.analyze_policy_string(json.dumps(single, indent=1))
        for finding in policy.findings:
            parliament.enhance_finding(finding)
            detail = finding.detail
            shown = ", ".join(map(str, detail)) if isinstance(detail, list) else str(detail or "")
            out.append(LintFinding(i, finding.issue, str(finding.severity), finding.title, shown))
    return out
