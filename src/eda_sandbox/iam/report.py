"""Findings of the IAM check, one line each, and the exit status they give."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from rich.console import Console
from rich.text import Text


class Severity(StrEnum):
    ERROR = "error"  # AWS would deny the call, or the policy is too broad
    WARNING = "warning"  # granted and unused, or not checkable; an error with --strict
    INFO = "info"  # accepted on purpose (allow_wildcard with a reason)


class Kind(StrEnum):
    MISSING = "missing"
    WRONG_RESOURCE = "wrong-resource"
    WILDCARD = "wildcard"
    UNUSED = "unused"
    UNRESOLVED = "unresolved"
    LINT = "lint"


class ExitStatus(IntEnum):
    OK = 0
    FINDINGS = 1
    INVALID = 2


@dataclass(frozen=True)
class Finding:
    kind: Kind
    severity: Severity
    function: str
    where: str  # file:line
    message: str

    def line(self) -> str:
        head = f"{self.where}: {self.severity.value}: [{self.kind.value}]"
        return f"{head} {self.function}: {self.message}"


@dataclass
class Report:
    findings: list[Finding]
    functions: int
    calls: int

    def failing(self, strict: bool) -> list[Finding]:
        bad = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
        return [f for f in self.findings if f.severity in bad]

    def status(self, strict: bool) -> ExitStatus:
        return ExitStatus.FINDINGS if self.failing(strict) else ExitStatus.OK

    def count(self, severity: Severity) -> int:
        return sum(f.severity is severity for f in self.findings)


_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


def render(console: Console, report: Report, strict: bool) -> None:
    for finding in sorted(report.findings, key=lambda f: (f.where, f.kind)):
        style = _STYLE[finding.severity]
        # Text, not markup: messages hold brackets ("[dynamodb:PutItem]").
        console.print(Text(finding.line(), style=style), soft_wrap=True)
    verdict = "failed" if report.failing(strict) else "passed"
    console.print(
        f"[bold]check-iam {verdict}[/]: {report.functions} function(s), "
        f"{report.calls} AWS call(s), "
        f"{report.count(Severity.ERROR)} error(s), {report.count(Severity.WARNING)} warning(s)"
        + (" (--strict: warnings fail)" if strict else ""),
        highlight=False,
        soft_wrap=True,
    )


def merge(*groups: Iterable[Finding]) -> list[Finding]:
    return list(dict.fromkeys(f for g in groups for f in g))
