"""``python -m eda_sandbox.topology apply|plan|destroy|check-iam``: converge an endpoint to a
topology, or check its roles against its code (``check-iam``, no endpoint needed).

Exit status: 0 done, 1 the endpoint refused or failed (check-iam: it found problems),
2 the topology file is invalid (then nothing was touched).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from eda_sandbox.cli.arguments import join_dash_values
from eda_sandbox.config import Settings, load_settings
from eda_sandbox.errors import PackagingError, SettingsError, TopologyApplyError
from eda_sandbox.iam.check import check_topology
from eda_sandbox.iam.exceptions import IamCheckError
from eda_sandbox.iam.report import render as render_report
from eda_sandbox.topology.engine import Engine, Packages, Result, make_clients, package_topology
from eda_sandbox.topology.loader import InvalidTopologyError, LoadedTopology, load_topology
from eda_sandbox.topology.packaging import Packager
from eda_sandbox.topology.resources.base import Clients

_STYLE = {"create": "green", "update": "yellow", "delete": "red", "unchanged": "dim"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m eda_sandbox.topology",
        description="Create what is missing, update what differs, report the rest unchanged.",
    )
    p.add_argument("command", choices=["apply", "plan", "destroy", "check-iam"])
    p.add_argument("--file", type=Path, default=Path("infra/topology.yaml"))
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--endpoint-url", help="default: the sandbox (AWS_ENDPOINT_URL or 4566)")
    p.add_argument(
        "--profile",
        help="AWS profile; with no endpoint given (flag or AWS_ENDPOINT_URL) targets real AWS",
    )
    p.add_argument("--region", help="default: AWS_DEFAULT_REGION or us-east-1")
    p.add_argument("--name-suffix", default="", help="appended to every physical name (tests)")
    p.add_argument("--base-dir", type=Path, help="folder code paths are relative to")
    p.add_argument(
        "--constraints", type=Path, help="pip constraints (default: <base>/constraints.txt)"
    )
    p.add_argument("--build-dir", type=Path, help="default: Settings.build_dir")
    p.add_argument("--outputs", type=Path, help="default: Settings.outputs_file")
    p.add_argument("--verbose", "-v", action="store_true", help="list unchanged resources too")
    p.add_argument(
        "--strict", action="store_true", help="check-iam: warnings (unused, unresolved) fail too"
    )
    p.add_argument("--function", action="append", help="check-iam: only this function (repeatable)")
    return p


def render(console: Console, result: Result, verbose: bool) -> None:
    rows = [c for c in result.changes if verbose or c.action != "unchanged"]
    if rows:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("action", "kind", "name", "details"):
            table.add_column(column)
        for c in rows:
            style = _STYLE[c.action]
            detail = ", ".join(c.details)
            table.add_row(f"[{style}]{c.action}[/]", c.resource.kind, c.resource.name, detail)
        console.print(table)
    done = {"create": "created", "update": "updated", "delete": "deleted"}
    parts = [
        f"{result.count(a)} {done[a] if result.applied else 'to ' + a}"
        for a in ("create", "update", "delete")
        if result.count(a)
    ]
    parts.append(f"{result.count('unchanged')} unchanged")
    counts = ", ".join(parts)
    verb = "applied" if result.applied else "plan only, nothing changed"
    console.print(f"[bold]{result.changed} changed[/] ({counts}) in {result.seconds:.2f} s, {verb}")


def check_iam(
    console: Console, err: Console, loaded: LoadedTopology, only: list[str] | None, strict: bool
) -> int:
    unknown = [f for f in only or [] if f not in loaded.topology.functions]
    if unknown:
        err.print(f"[red]error:[/] no function {', '.join(map(repr, unknown))} in the topology")
        return 2
    try:
        report = check_topology(loaded, only)
    except IamCheckError as e:
        err.print(f"[red]{type(e).__name__}:[/] ", end="")
        err.print(str(e), markup=False)
        return 1
    render_report(console, report, strict)
    return int(report.status(strict))


@dataclass
class Prepared:
    """What a command needs before it talks to an endpoint: its arguments, the topology
    loaded and checked and, for apply and plan, the functions and layers packaged."""

    args: argparse.Namespace
    settings: Settings
    loaded: LoadedTopology
    console: Console
    err: Console
    packages: Packages | None = None
    clients: tuple[Clients, Any] | None = None


def prepare(argv: list[str] | None = None, *, package: bool = False) -> Prepared | int:
    """Everything before the endpoint is needed, or the exit status if that failed (the
    problems printed). ``package``: build the function and layer zips now too, so that
    ``up --apply`` does this while the sandbox starts."""
    p = parser()
    args = p.parse_args(join_dash_values(p, sys.argv[1:] if argv is None else argv))
    console = Console(stderr=False, highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        settings = load_settings()
    except SettingsError as e:
        err.print(f"[red]error:[/] {e}")
        return 2
    try:
        loaded = load_topology(
            args.file, base_dir=args.base_dir, check_code=args.command != "destroy"
        )
    except InvalidTopologyError as e:
        for problem in e.problems:
            err.print(problem, markup=False, soft_wrap=True)  # one problem, one line
        err.print(f"[red]{len(e.problems)} problem(s); nothing was applied[/]")
        return 2
    prepared = Prepared(args, settings, loaded, console, err)
    if package and args.command in ("apply", "plan"):
        try:
            prepared.packages = package_topology(loaded, _packager(prepared))
        except (TopologyApplyError, PackagingError) as e:
            _print_error(err, e)
            return 1
        # Making boto3 clients loads their service models: CPU, no request.
        prepared.clients = make_clients(_endpoint(prepared), _region(prepared), args.profile, 16)
    return prepared


def _endpoint(prepared: Prepared) -> str | None:
    args = prepared.args
    if args.endpoint_url:
        return str(args.endpoint_url)
    if args.profile and not os.environ.get("AWS_ENDPOINT_URL"):
        return None  # a real account
    return prepared.settings.endpoint_url


def _region(prepared: Prepared) -> str:
    return str(prepared.args.region or prepared.settings.region)


def _packager(prepared: Prepared) -> Packager:
    args, loaded = prepared.args, prepared.loaded
    constraints = args.constraints or (loaded.base_dir / "constraints.txt")
    return Packager(
        args.build_dir or prepared.settings.build_dir,
        constraints if constraints.is_file() else None,
    )


def _print_error(err: Console, e: Exception) -> None:
    err.print(f"[red]{type(e).__name__}:[/] ", end="")
    err.print(str(e), markup=False)


def execute(prepared: Prepared) -> int:
    """Run the prepared command against its endpoint."""
    args, settings, loaded = prepared.args, prepared.settings, prepared.loaded
    console, err = prepared.console, prepared.err
    if args.command == "check-iam":
        return check_iam(console, err, loaded, args.function, args.strict)
    try:
        with Engine(
            loaded,
            endpoint_url=_endpoint(prepared),
            region=_region(prepared),
            profile=args.profile,
            name_suffix=args.name_suffix,
            outputs_file=args.outputs or settings.outputs_file,
            packager=_packager(prepared),
            build_dir=args.build_dir or settings.build_dir,
            packages=prepared.packages,
            clients=prepared.clients,
        ) as engine:
            dry = args.dry_run or args.command == "plan"
            result = engine.destroy(dry) if args.command == "destroy" else engine.apply(dry)
    except (TopologyApplyError, PackagingError) as e:
        _print_error(err, e)
        return 1
    render(console, result, args.verbose)
    return 0


def main(argv: list[str] | None = None) -> int:
    prepared = prepare(argv)
    return prepared if isinstance(prepared, int) else execute(prepared)


if __name__ == "__main__":
    sys.exit(main())
