"""Lambda functions and what hangs off them: invoke permissions, async config, SQS mappings."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from botocore.exceptions import ClientError

from eda_sandbox.errors import TopologyApplyError
from eda_sandbox.topology.naming import UnresolvedReferenceError
from eda_sandbox.topology.resources.base import (
    Context,
    Resource,
    SpecResource,
    absent_on,
    error_code,
    missing_tags,
    wait_until,
)
from eda_sandbox.topology.schema import Function, QueueSource

_NOT_FOUND = "ResourceNotFoundException"


def wait_function_ready(ctx: Context, name: str) -> None:
    """Until State is Active and the last update finished: Lambda refuses changes before."""

    def probe() -> bool | None:
        cfg = ctx.clients.lambda_.get_function_configuration(FunctionName=name)
        if cfg.get("State") == "Failed" or cfg.get("LastUpdateStatus") == "Failed":
            reason = cfg.get("StateReason") or cfg.get("LastUpdateStatusReason")
            raise TopologyApplyError(f"function {name} failed to deploy: {reason}")
        done = cfg.get("State", "Active") == "Active" and cfg.get(
            "LastUpdateStatus", "Successful"
        ) in ("Successful",)
        return True if done else None

    wait_until(f"function {name} to become Active", probe, ctx.wait_timeout)


class FunctionResource(SpecResource[Function]):
    kind = "function"
    level = 2

    def layer_arns(self, ctx: Context) -> list[str]:
        """The declared layers' current version ARNs, in the function's order."""
        missing = [n for n in self.spec.layers if n not in ctx.layer_arns]
        if missing:  # a layer that gets a new version in this run
            raise UnresolvedReferenceError(f"layers.{missing[0]}.arn")
        return [ctx.layer_arns[n] for n in self.spec.layers]

    def config(self, ctx: Context) -> dict[str, Any]:
        env = {k: ctx.names.resolve(v, ctx.queue_urls) for k, v in self.spec.environment.items()}
        return {
            "Runtime": self.spec.runtime,
            "Handler": self.spec.handler,
            "MemorySize": self.spec.memory,
            "Timeout": self.spec.timeout,
            "Role": ctx.names.role_arn(self.logical),
            "Environment": {"Variables": env},
            "Layers": self.layer_arns(ctx),
        }

    def read(self, ctx: Context) -> dict[str, Any] | None:
        return absent_on(
            lambda: ctx.clients.lambda_.get_function(FunctionName=self.name), _NOT_FOUND
        )

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        have = current["Configuration"]
        changes = []
        if have.get("CodeSha256") != ctx.packages[self.logical].code_sha256:
            changes.append("code")
        try:
            want = self.config(ctx)
        except UnresolvedReferenceError as e:
            # Refers to a resource created (or a layer version published) in this run;
            # the update sends the whole configuration once it is known.
            want = {}
            changes.append("Layers" if str(e).startswith("layers.") else "Environment")
        for key, value in want.items():
            got = have.get(key)
            if key == "Environment":
                got = {"Variables": (got or {}).get("Variables", {})}
            elif key == "Layers":
                got = [layer["Arn"] for layer in got or []]
            if got != value:
                changes.append(key)
        concurrency = current.get("Concurrency", {}).get("ReservedConcurrentExecutions")
        if concurrency != self.spec.reserved_concurrency:
            changes.append("reserved concurrency")
        if missing_tags(ctx.names.tags(), current.get("Tags", {})):
            changes.append("tags")
        return changes

    def _create_function(self, ctx: Context) -> None:
        # On AWS a new role takes seconds to become assumable; Lambda says so explicitly.
        deadline = time.monotonic() + ctx.wait_timeout
        delay = 0.5
        while True:
            try:
                ctx.clients.lambda_.create_function(
                    FunctionName=self.name,
                    Code={"ZipFile": ctx.packages[self.logical].read()},
                    Architectures=["x86_64"],
                    Publish=False,
                    Tags=ctx.names.tags(),
                    **self.config(ctx),
                )
                return
            except ClientError as e:
                message = str(e.response.get("Error", {}).get("Message", ""))
                retry = error_code(e) == "InvalidParameterValueException" and re.search(
                    r"role.*cannot be assumed", message
                )
                if not retry or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 4.0)

    def _set_concurrency(self, ctx: Context) -> None:
        if self.spec.reserved_concurrency is None:
            ctx.clients.lambda_.delete_function_concurrency(FunctionName=self.name)
        else:
            ctx.clients.lambda_.put_function_concurrency(
                FunctionName=self.name, ReservedConcurrentExecutions=self.spec.reserved_concurrency
            )

    def create(self, ctx: Context) -> None:
        self._create_function(ctx)
        if self.spec.reserved_concurrency is not None:
            self._set_concurrency(ctx)
        wait_function_ready(ctx, self.name)

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        lam = ctx.clients.lambda_
        if "code" in changes:
            lam.update_function_code(
                FunctionName=self.name, ZipFile=ctx.packages[self.logical].read()
            )
            wait_function_ready(ctx, self.name)
        if set(changes) & set(self.config(ctx)):
            lam.update_function_configuration(FunctionName=self.name, **self.config(ctx))
            wait_function_ready(ctx, self.name)
        if "reserved concurrency" in changes:
            self._set_concurrency(ctx)
        if "tags" in changes:
            arn = current["Configuration"]["FunctionArn"]
            lam.tag_resource(Resource=arn, Tags=ctx.names.tags())

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        ctx.clients.lambda_.delete_function(FunctionName=self.name)

    def owned(self, ctx: Context, current: Any) -> bool:
        return super().owned(ctx, {"tags": current.get("Tags", {})})


class _FunctionChild(Resource):
    """Belongs to a function: deleted with it, owned when it is."""

    level = 3

    def owned(self, ctx: Context, current: Any) -> bool:
        fn = ctx.current.get(("function", self.logical))
        return fn is not None and super().owned(ctx, {"tags": fn.get("Tags", {})})


class InvokePermissionsResource(_FunctionChild):
    """Resource-policy statements letting our topics and rules invoke the function."""

    kind = "invoke permissions"
    PREFIX = "eda-"

    def __init__(self, logical: str, name: str, sources: dict[str, tuple[str, str]]) -> None:
        super().__init__(logical, name)
        self.sources = sources  # Sid -> (principal service, source ARN)

    def read(self, ctx: Context) -> dict[str, tuple[str, str]] | None:
        found = absent_on(
            lambda: ctx.clients.lambda_.get_policy(FunctionName=self.name), _NOT_FOUND
        )
        if found is None:
            return None
        out = {}
        for st in json.loads(found["Policy"]).get("Statement", []):
            sid = st.get("Sid", "")
            if sid.startswith(self.PREFIX):
                principal = st.get("Principal", {})
                service = principal.get("Service", "") if isinstance(principal, dict) else ""
                arn = st.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "")
                out[sid] = (service, arn)
        return out or None

    def diff(self, ctx: Context, current: dict[str, tuple[str, str]]) -> list[str]:
        changes = [
            f"{'~' if s in current else '+'}{s}"
            for s, v in self.sources.items()
            if current.get(s) != v
        ]
        return changes + [f"-{s}" for s in current if s not in self.sources]

    def create(self, ctx: Context) -> None:
        self.update(ctx, {}, [])

    def update(self, ctx: Context, current: dict[str, tuple[str, str]], changes: list[str]) -> None:
        lam = ctx.clients.lambda_
        for sid in current:
            if current[sid] != self.sources.get(sid):
                lam.remove_permission(FunctionName=self.name, StatementId=sid)
        for sid, (service, arn) in self.sources.items():
            if current.get(sid) != (service, arn):
                lam.add_permission(
                    FunctionName=self.name,
                    StatementId=sid,
                    Action="lambda:InvokeFunction",
                    Principal=service,
                    SourceArn=arn,
                )

    def delete(self, ctx: Context, current: Any) -> None:
        """Goes with the function."""


class AsyncConfigResource(_FunctionChild):
    kind = "async config"

    def desired(self, ctx: Context) -> dict[str, Any]:
        spec = ctx.topology.functions[self.logical].async_invocation
        assert spec is not None
        out: dict[str, Any] = {
            "MaximumRetryAttempts": spec.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": spec.maximum_event_age_seconds,
            "DestinationConfig": {},
        }
        if spec.on_failure is not None:
            dest = ctx.names.queue_arn(spec.on_failure)
            out["DestinationConfig"] = {"OnFailure": {"Destination": dest}}
        return out

    def read(self, ctx: Context) -> dict[str, Any] | None:
        return absent_on(
            lambda: ctx.clients.lambda_.get_function_event_invoke_config(FunctionName=self.name),
            _NOT_FOUND,
        )

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        changes = []
        for key, want in self.desired(ctx).items():
            got = current.get(key)
            if key == "DestinationConfig":
                got = {k: v for k, v in (got or {}).items() if v}
                got = {k: v for k, v in got.items() if v.get("Destination")}
            if got != want:
                changes.append(key)
        return changes

    def create(self, ctx: Context) -> None:
        ctx.clients.lambda_.put_function_event_invoke_config(
            FunctionName=self.name, **self.desired(ctx)
        )

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        self.create(ctx)

    def delete(self, ctx: Context, current: Any) -> None:
        """Goes with the function."""


class EventSourceMappingResource(_FunctionChild):
    kind = "event source"

    def __init__(
        self, logical: str, function_name: str, queue_name: str, spec: QueueSource
    ) -> None:
        super().__init__(logical, f"{queue_name} -> {function_name}")
        self.function_name = function_name
        self.spec = spec

    def desired(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "BatchSize": self.spec.batch_size,
            "FunctionResponseTypes": list(self.spec.function_response_types),
        }
        # Lambda rejects any batching window on a FIFO source, even 0.
        if not self.spec.queue.endswith(".fifo"):
            out["MaximumBatchingWindowInSeconds"] = self.spec.maximum_batching_window_seconds
        return out

    def read(self, ctx: Context) -> dict[str, Any] | None:
        found = absent_on(
            lambda: ctx.clients.lambda_.list_event_source_mappings(
                FunctionName=self.function_name, EventSourceArn=ctx.names.queue_arn(self.spec.queue)
            ),
            _NOT_FOUND,
        )
        mappings = found.get("EventSourceMappings", []) if found else []
        return mappings[0] if mappings else None

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        # An empty FunctionResponseTypes is omitted from responses.
        have = {"FunctionResponseTypes": [], **current}
        changes = [k for k, v in self.desired().items() if have.get(k) != v]
        enabled = current.get("State") in ("Enabled", "Enabling", "Creating", "Updating")
        if enabled != self.spec.enabled:
            changes.append("State")
        return changes

    def create(self, ctx: Context) -> None:
        ctx.clients.lambda_.create_event_source_mapping(
            FunctionName=self.function_name,
            EventSourceArn=ctx.names.queue_arn(self.spec.queue),
            Enabled=self.spec.enabled,
            **self.desired(),
        )

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        uuid = current["UUID"]
        lam = ctx.clients.lambda_

        def attempt() -> bool | None:
            # A mapping still Creating/Updating refuses changes; wait for it, bounded.
            try:
                lam.update_event_source_mapping(
                    UUID=uuid, Enabled=self.spec.enabled, **self.desired()
                )
            except ClientError as e:
                if error_code(e) == "ResourceInUseException":
                    return None
                raise
            return True

        wait_until(f"event source mapping {uuid} to accept an update", attempt, ctx.wait_timeout)

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        ctx.clients.lambda_.delete_event_source_mapping(UUID=current["UUID"])
