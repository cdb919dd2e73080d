"""What every managed resource kind implements, and the context they share.

A resource reads its current state (``None`` when absent), lists how that differs from
the declaration, and creates, updates or deletes itself. The engine orders them by
``level``: a resource only depends on resources of lower levels.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from eda_sandbox.errors import TopologyApplyError
from eda_sandbox.topology.naming import Names
from eda_sandbox.topology.packaging import Package
from eda_sandbox.topology.schema import Topology

# boto3 ships no type information; a client is whatever boto3 returns.
Client = Any
T = TypeVar("T")


@dataclass
class Clients:
    sqs: Client
    sns: Client
    events: Client
    lambda_: Client
    dynamodb: Client
    iam: Client
    logs: Client


@dataclass
class Context:
    topology: Topology
    names: Names
    clients: Clients
    packages: Mapping[str, Package]
    layers: Mapping[str, Package] = field(default_factory=dict)
    # Filled by queue reads and creates, read by references to ``queues.X.url``.
    queue_urls: dict[str, str] = field(default_factory=dict)
    # The version ARN of each layer as declared: filled by a read that finds it current
    # or by its publication, read by the functions that use the layer.
    layer_arns: dict[str, str] = field(default_factory=dict)
    # Current state by resource key, for sub-resources that follow their parent.
    current: dict[tuple[str, str], Any] = field(default_factory=dict)
    wait_timeout: float = 60.0


def error_code(e: ClientError) -> str:
    code: str = e.response.get("Error", {}).get("Code", "")
    return code


def absent_on[T](call: Callable[[], T], *codes: str) -> T | None:
    """``call()``, or ``None`` when it fails with one of ``codes`` (a not-found error)."""
    try:
        return call()
    except ClientError as e:
        if error_code(e) in codes:
            return None
        raise


def wait_until[T](
    what: str, probe: Callable[[], T | None], timeout: float, first_delay: float = 0.05
) -> T:
    """Poll ``probe`` with backoff until it returns a value; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() + delay > deadline:
            raise TopologyApplyError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def canonical(value: Any) -> str:
    """A JSON document (given parsed or as text) in a form that compares by meaning."""
    if isinstance(value, str):
        if not value:
            return ""
        value = json.loads(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def missing_tags(desired: Mapping[str, str], actual: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in desired.items() if actual.get(k) != v}


class Resource(ABC):
    kind: str = ""
    level: int = 0

    def __init__(self, logical: str, name: str) -> None:
        self.logical = logical
        self.name = name

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.logical)

    @abstractmethod
    def read(self, ctx: Context) -> Any | None:
        """Current state, ``None`` when the resource does not exist."""

    @abstractmethod
    def diff(self, ctx: Context, current: Any) -> list[str]:
        """What differs from the declaration (empty: unchanged)."""

    @abstractmethod
    def create(self, ctx: Context) -> None: ...

    @abstractmethod
    def update(self, ctx: Context, current: Any, changes: list[str]) -> None: ...

    @abstractmethod
    def delete(self, ctx: Context, current: Any) -> None: ...

    def owned(self, ctx: Context, current: Any) -> bool:
        """Whether ``destroy`` may delete it: it carries our owner tag (or its parent does)."""
        tags: Mapping[str, str] = current.get("tags", {}) if isinstance(current, dict) else {}
        return tags.get("eda-sandbox:owner") == ctx.names.owner


class SpecResource[SpecT](Resource):
    """A resource declared by one entry of the topology, kept as ``spec``."""

    def __init__(self, logical: str, name: str, spec: SpecT) -> None:
        super().__init__(logical, name)
        self.spec = spec
