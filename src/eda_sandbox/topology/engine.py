"""Converge an endpoint to a validated topology: plan, apply, destroy.

Every resource is read once, in parallel (the no-change path is those reads and nothing
else); changes are applied level by level (tables, queues, topics, buses, layers, roles,
log groups; then queues with a redrive policy; then functions, each waited on until Active;
then subscriptions, rules, invoke permissions, async configs and event source mappings),
in parallel within a level.

Targets: the sandbox by default (``Settings.endpoint_url``). With ``profile`` and no
endpoint the same code talks to a real AWS account: ARNs use the account from STS and
the region's partition, new roles are retried until Lambda can assume them, and nothing
depends on LocalStack. That path is designed for but not exercised by this repository's
tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from eda_sandbox.errors import PackagingError, TopologyApplyError
from eda_sandbox.topology.loader import LoadedTopology
from eda_sandbox.topology.naming import SUFFIX_RE, Names
from eda_sandbox.topology.outputs import Outputs, build_outputs, write_outputs
from eda_sandbox.topology.packaging import Package, Packager
from eda_sandbox.topology.resources.base import Clients, Context, Resource
from eda_sandbox.topology.resources.events import BusResource, RuleResource
from eda_sandbox.topology.resources.functions import (
    AsyncConfigResource,
    EventSourceMappingResource,
    FunctionResource,
    InvokePermissionsResource,
)
from eda_sandbox.topology.resources.iam import RoleResource
from eda_sandbox.topology.resources.layers import LayerResource
from eda_sandbox.topology.resources.messaging import (
    QueueResource,
    SubscriptionsResource,
    TopicResource,
)
from eda_sandbox.topology.resources.storage import LogGroupResource, TableResource

Action = Literal["create", "update", "unchanged", "delete"]
T = TypeVar("T")
R = TypeVar("R")
# Every function's zip and every layer's zip, by logical name.
Packages = tuple[dict[str, Package], dict[str, Package]]


@dataclass
class Change:
    resource: Resource
    action: Action
    current: Any = None
    details: list[str] = field(default_factory=list)


@dataclass
class Result:
    changes: list[Change]
    seconds: float
    applied: bool
    outputs: Outputs | None = None

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def changed(self) -> int:
        return len(self.changes) - self.count("unchanged")


def _sid(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)


def build_resources(names: Names) -> list[Resource]:
    """Every resource the topology declares, in a stable order."""
    t = names.topology
    out: list[Resource] = []
    out += [TableResource(n, names.table(n), spec) for n, spec in t.tables.items()]
    out += [QueueResource(n, names.queue(n), spec) for n, spec in t.queues.items()]
    out += [TopicResource(n, names.topic(n), spec) for n, spec in t.topics.items()]
    out += [BusResource(n, names.bus(n)) for n in t.buses]
    out += [LayerResource(n, names.layer(n), spec) for n, spec in t.layers.items()]
    out += [RoleResource(n, names.role(n), spec) for n, spec in t.functions.items()]
    out += [LogGroupResource(n, names.log_group(n), t.retention_of(n)) for n in t.functions]
    out += [FunctionResource(n, names.function(n), spec) for n, spec in t.functions.items()]
    invokers: dict[str, dict[str, tuple[str, str]]] = {}
    for topic, topic_spec in t.topics.items():
        if topic_spec.subscriptions:
            out.append(SubscriptionsResource(topic, names.topic(topic), topic_spec))
        for sub in topic_spec.subscriptions:
            if sub.function is not None:
                sources = invokers.setdefault(sub.function, {})
                sources[_sid(f"eda-sns-{topic}")] = ("sns.amazonaws.com", names.topic_arn(topic))
    for rule, rule_spec in t.rules.items():
        out.append(RuleResource(rule, names.rule(rule), rule_spec))
        for target in rule_spec.targets:
            sources = invokers.setdefault(target.function, {})
            sources[_sid(f"eda-events-{rule}")] = ("events.amazonaws.com", names.rule_arn(rule))
    for fn, sources in invokers.items():
        out.append(InvokePermissionsResource(fn, names.function(fn), sources))
    for fn, spec in t.functions.items():
        if spec.async_invocation is not None:
            out.append(AsyncConfigResource(fn, names.function(fn)))
        for src in spec.sources:
            out.append(
                EventSourceMappingResource(fn, names.function(fn), names.queue(src.queue), src)
            )
    return out


def make_clients(
    endpoint_url: str | None, region: str, profile: str | None, workers: int
) -> tuple[Clients, Any]:
    """Clients for every service the topology uses, plus STS (to learn the account)."""
    if endpoint_url and not profile and not os.environ.get("AWS_ACCESS_KEY_ID"):
        # An emulator accepts any credentials; don't make boto3 search (IMDS is slow).
        session = boto3.session.Session(
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - any value works
            region_name=region,
        )
    else:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=workers * 2,
        connect_timeout=5,
        read_timeout=70,
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url, config=config)

    clients = Clients(
        sqs=client("sqs"),
        sns=client("sns"),
        events=client("events"),
        lambda_=client("lambda"),
        dynamodb=client("dynamodb"),
        iam=client("iam"),
        logs=client("logs"),
    )
    return clients, client("sts")


def run_all[T, R](
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Sequence[T], what: Callable[[T], str]
) -> list[R]:
    """``fn`` over ``items`` in ``pool``; all failures reported together."""
    futures = [pool.submit(fn, item) for item in items]
    results: list[R] = []
    failures: list[str] = []
    for item, future in zip(items, futures, strict=True):
        try:
            results.append(future.result())
        except (ClientError, BotoCoreError) as e:
            failures.append(f"{what(item)}: {_describe(e)}")
        except (TopologyApplyError, PackagingError) as e:
            failures.append(f"{what(item)}: {e}")
    if failures:
        raise TopologyApplyError("\n".join(failures))
    return results


def package_topology(
    loaded: LoadedTopology, packager: Packager, pool: ThreadPoolExecutor | None = None
) -> Packages:
    """Every function's zip and every layer's zip, by logical name; needs no endpoint."""
    t, base = loaded.topology, loaded.base_dir
    jobs: list[tuple[str, str, Callable[[], Package]]] = []
    for name, fn in t.functions.items():
        jobs.append(("function", name, partial(packager.package, name, base / fn.code, fn.runtime)))
    for name, lr in t.layers.items():
        jobs.append(
            ("layer", name, partial(packager.package_layer, name, base / lr.code, lr.runtimes))
        )
    own = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=8, thread_name_prefix="package")
    try:
        built = run_all(
            pool, lambda job: job[2](), jobs, lambda job: f"packaging {job[0]} {job[1]}"
        )
    finally:
        if own:
            pool.shutdown(wait=True)
    by_kind: dict[str, dict[str, Package]] = {"function": {}, "layer": {}}
    for (kind, name, _), package in zip(jobs, built, strict=True):
        by_kind[kind][name] = package
    return by_kind["function"], by_kind["layer"]


def _describe(e: Exception) -> str:
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(e)


class Engine:
    def __init__(
        self,
        loaded: LoadedTopology,
        *,
        endpoint_url: str | None,
        region: str,
        profile: str | None = None,
        name_suffix: str = "",
        build_dir: Path,
        constraints: Path | None = None,
        outputs_file: Path | None = None,
        workers: int = 16,
        packager: Packager | None = None,
        wait_timeout: float = 60.0,
        packages: Packages | None = None,
        clients: tuple[Clients, Any] | None = None,
    ) -> None:
        """``packages`` and ``clients`` (``make_clients``'s): built before, when ``up
        --apply`` builds them while the sandbox starts; else ``plan`` packages and this
        makes the clients."""
        if not SUFFIX_RE.fullmatch(name_suffix):
            raise TopologyApplyError(
                f"name suffix {name_suffix!r}: use at most 16 lowercase letters, digits, '-'"
            )
        self.loaded = loaded
        self.endpoint_url = endpoint_url
        self.region = region
        self.profile = profile
        self.suffix = name_suffix
        self.outputs_file = outputs_file
        self.workers = workers
        self.wait_timeout = wait_timeout
        self.packager = packager or Packager(build_dir, constraints)
        self._packages = packages
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="topology")
        try:
            self.clients, sts = clients or make_clients(endpoint_url, region, profile, workers)
            account = sts.get_caller_identity()["Account"]
        except (ClientError, BotoCoreError) as e:
            where = endpoint_url or f"AWS ({profile or 'default credentials'})"
            raise TopologyApplyError(f"cannot reach {where}: {_describe(e)}") from e
        self.names = Names(loaded.topology, region, account, name_suffix)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map(self, fn: Callable[[T], R], items: Sequence[T], what: Callable[[T], str]) -> list[R]:
        return run_all(self._pool, fn, items, what)

    def package(self) -> Packages:
        """Every function's zip and every layer's zip, by logical name."""
        return package_topology(self.loaded, self.packager, self._pool)

    def _context(
        self, packages: dict[str, Package], layers: dict[str, Package] | None = None
    ) -> Context:
        return Context(
            topology=self.loaded.topology,
            names=self.names,
            clients=self.clients,
            packages=packages,
            layers=layers or {},
            wait_timeout=self.wait_timeout,
        )

    def _read(self, ctx: Context, resources: list[Resource]) -> list[Any]:
        current = self._map(
            lambda r: r.read(ctx), resources, lambda r: f"reading {r.kind} {r.name}"
        )
        for resource, state in zip(resources, current, strict=True):
            if state is not None:
                ctx.current[resource.key] = state
        return current

    def plan(self) -> tuple[Context, list[Change]]:
        ctx = self._context(*(self._packages or self.package()))
        resources = build_resources(self.names)
        changes = []
        for resource, current in zip(resources, self._read(ctx, resources), strict=True):
            if current is None:
                changes.append(Change(resource, "create"))
                continue
            details = resource.diff(ctx, current)
            changes.append(Change(resource, "update" if details else "unchanged", current, details))
        return ctx, changes

    def _by_level(self, changes: Iterable[Change], reverse: bool = False) -> list[list[Change]]:
        levels: dict[int, list[Change]] = {}
        for change in changes:
            levels.setdefault(change.resource.level, []).append(change)
        return [levels[k] for k in sorted(levels, reverse=reverse)]

    def apply(self, dry_run: bool = False) -> Result:
        started = time.perf_counter()
        ctx, changes = self.plan()
        if not dry_run:
            for level in self._by_level(c for c in changes if c.action != "unchanged"):

                def run(change: Change) -> None:
                    if change.action == "create":
                        change.resource.create(ctx)
                    else:
                        change.resource.update(ctx, change.current, change.details)

                self._map(run, level, lambda c: f"{c.action} {c.resource.kind} {c.resource.name}")
        outputs = build_outputs(self.names, self.endpoint_url, ctx.queue_urls, ctx.layer_arns)
        if not dry_run and self.outputs_file is not None:
            write_outputs(self.outputs_file, outputs)
        return Result(changes, time.perf_counter() - started, not dry_run, outputs)

    def destroy(self, dry_run: bool = False) -> Result:
        """Delete what the topology declares and we own (owner tag), nothing else."""
        started = time.perf_counter()
        ctx = self._context({})
        resources = [
            r
            for r in build_resources(self.names)
            # Deleted together with their function.
            if not isinstance(r, InvokePermissionsResource | AsyncConfigResource)
        ]
        changes = [
            Change(r, "delete", current)
            for r, current in zip(resources, self._read(ctx, resources), strict=True)
            if current is not None and r.owned(ctx, current)
        ]
        if not dry_run:
            for level in self._by_level(changes, reverse=True):
                self._map(
                    lambda c: c.resource.delete(ctx, c.current),
                    level,
                    lambda c: f"delete {c.resource.kind} {c.resource.name}",
                )
            if self.outputs_file is not None:
                self.outputs_file.unlink(missing_ok=True)
        return Result(changes, time.perf_counter() - started, not dry_run)
