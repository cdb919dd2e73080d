"""The topology file's schema: pydantic models, strict (unknown fields are errors).

Field constraints carry their own messages ("0 is not between 1 and 900") so the loader
can report them verbatim; cross-references between resources are checked by
:mod:`eda_sandbox.topology.checks`, after the shape is known to be right.

Wiring (subscription targets, DLQs, event sources, rule targets) names resources by
their logical name; free-form strings (environment values, IAM resources) refer to
resolved attributes with ``${kind.Name.attr}``, e.g. ``${tables.Users.name}``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from eda_sandbox.executor.runtimes import RuntimeAdapter

# The runtimes the sandbox's executor serves (all of them AWS runtimes too).
SUPPORTED_RUNTIMES = tuple(RuntimeAdapter.supported())
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip
REF_RE = re.compile(r"\$\{(\w+)\.([^}]+)\.(\w+)\}")
# Attributes each kind of resource exposes to ${...} references (and to outputs.json).
REF_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "tables": ("name", "arn"),
    "queues": ("name", "url", "arn"),
    "topics": ("name", "arn"),
    "buses": ("name", "arn"),
    "rules": ("name", "arn"),
    "functions": ("name", "arn", "log_group", "role_arn"),
}


def between(lo: int, hi: int) -> AfterValidator:
    """Constrain an int to [lo, hi]; the error reads '<v> is not between lo and hi'."""

    def check(value: int) -> int:
        if not lo <= value <= hi:
            raise ValueError(f"{value} is not between {lo} and {hi}")
        return value

    return AfterValidator(check)


def _runtime(value: str) -> str:
    if value not in SUPPORTED_RUNTIMES:
        raise ValueError(
            f"{value!r} is not a supported runtime (one of {', '.join(SUPPORTED_RUNTIMES)})"
        )
    return value


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{value} is not a CloudWatch Logs retention (one of "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))})"
        )
    return value


def _handler(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", value):
        raise ValueError(f"{value!r} is not of the form module.function")
    return value


Runtime = Annotated[str, AfterValidator(_runtime)]
Retention = Annotated[int, AfterValidator(_retention)]
Handler = Annotated[str, AfterValidator(_handler)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- DynamoDB -------------------------------------------------------------------------


class KeyAttribute(Strict):
    name: str = Field(min_length=1)
    type: Literal["S", "N", "B"] = "S"


class Table(Strict):
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    ttl_attribute: str | None = None


# --- SQS ------------------------------------------------------------------------------


class Redrive(Strict):
    dlq: str
    max_receive_count: Annotated[int, between(1, 1000)] = 3


class SendFrom(Strict):
    """A principal allowed to send to the queue, pinned by aws:SourceArn."""

    topic: str | None = None
    rule: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SendFrom:
        if (self.topic is None) == (self.rule is None):
            raise ValueError("give exactly one of topic, rule")
        return self


class Queue(Strict):
    visibility_timeout: Annotated[int, between(0, 43200)] = 30
    retention_seconds: Annotated[int, between(60, 1209600)] = 345600
    receive_wait_seconds: Annotated[int, between(0, 20)] = 0
    content_based_deduplication: bool = False
    redrive: Redrive | None = None
    allow_send_from: list[SendFrom] = []


# --- SNS ------------------------------------------------------------------------------


class Subscription(Strict):
    queue: str | None = None
    function: str | None = None
    filter_policy: dict[str, Any] | None = None
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"
    raw_message_delivery: bool = False
    dlq: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Subscription:
        if (self.queue is None) == (self.function is None):
            raise ValueError("give exactly one of queue, function")
        if self.raw_message_delivery and self.function is not None:
            raise ValueError("raw_message_delivery applies to queue subscriptions only")
        return self


class Topic(Strict):
    content_based_deduplication: bool = False
    subscriptions: list[Subscription] = []


# --- EventBridge ----------------------------------------------------------------------


class Bus(Strict):
    description: str | None = None


class RetryPolicy(Strict):
    maximum_retry_attempts: Annotated[int, between(0, 185)] = 185
    maximum_event_age_seconds: Annotated[int, between(60, 86400)] = 86400


class Target(Strict):
    function: str
    retry: RetryPolicy | None = None
    dlq: str | None = None


class Rule(Strict):
    bus: str = "default"
    description: str | None = None
    enabled: bool = True
    pattern: dict[str, Any] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1, max_length=5)


# --- Lambda ---------------------------------------------------------------------------


class QueueSource(Strict):
    queue: str
    batch_size: Annotated[int, between(1, 10000)] = 10
    maximum_batching_window_seconds: Annotated[int, between(0, 300)] = 0
    function_response_types: list[Literal["ReportBatchItemFailures"]] = ["ReportBatchItemFailures"]
    enabled: bool = True


class AsyncInvocation(Strict):
    maximum_retry_attempts: Annotated[int, between(0, 2)] = 2
    maximum_event_age_seconds: Annotated[int, between(60, 21600)] = 21600
    on_failure: str | None = None


class Permission(Strict):
    actions: list[str] = Field(min_length=1)
    resources: list[str] = Field(min_length=1)
    # A wildcard in an action or a resource is refused unless it is asked for, with why.
    allow_wildcard: bool = False
    reason: str | None = None

    @model_validator(mode="after")
    def _reasoned(self) -> Permission:
        if self.allow_wildcard and not (self.reason or "").strip():
            raise ValueError("allow_wildcard: true needs a reason")
        return self


class Layer(Strict):
    """A Lambda layer: a folder in AWS's layout (``python/``, ``nodejs/node_modules/``)."""

    code: str
    runtimes: list[Runtime] = Field(min_length=1, max_length=15)
    # AWS allows 256 characters; the rest holds the owner and content marker.
    description: str = Field(default="", max_length=120)


class Function(Strict):
    runtime: Runtime
    handler: Handler = "app.handler"
    code: str
    # In order: a later layer's file replaces an earlier one's at the same path (AWS's rule).
    layers: list[str] = Field(default=[], max_length=5)
    memory: Annotated[int, between(128, 10240)] = 128
    timeout: Annotated[int, between(1, 900)] = 3
    reserved_concurrency: Annotated[int, between(0, 1000)] | None = None
    log_retention_days: Retention | None = None
    environment: dict[str, str] = {}
    permissions: list[Permission] = []
    sources: list[QueueSource] = []
    async_invocation: AsyncInvocation | None = None


# --- The file -------------------------------------------------------------------------


class Defaults(Strict):
    log_retention_days: Retention = 7
    tags: dict[str, str] = {}


class Topology(Strict):
    version: Literal[1] = 1
    project: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    # Folder that code paths are relative to, itself relative to the topology file.
    base_dir: str = ".."
    defaults: Defaults = Defaults()
    tables: dict[str, Table] = {}
    queues: dict[str, Queue] = {}
    topics: dict[str, Topic] = {}
    buses: dict[str, Bus] = {}
    rules: dict[str, Rule] = {}
    layers: dict[str, Layer] = {}
    functions: dict[str, Function] = {}

    def retention_of(self, function: str) -> int:
        days = self.functions[function].log_retention_days
        return self.defaults.log_retention_days if days is None else days
