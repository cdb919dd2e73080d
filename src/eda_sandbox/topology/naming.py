"""Physical names and ARNs of declared resources, and ``${kind.Name.attr}`` resolution.

ARNs are computed, not looked up: they follow from partition, region, account and name,
which keeps the no-change path free of describe calls. Queue URLs are the exception
(their host differs between AWS and emulators), so they are supplied by whoever read or
created the queue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from eda_sandbox.topology.schema import REF_RE, Topology

OWNER_TAG = "eda-sandbox:owner"
SUFFIX_RE = re.compile(r"[a-z0-9-]{0,16}")


class UnresolvedReferenceError(LookupError):
    """A reference to a value that does not exist yet (a queue URL before the queue)."""


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class Names:
    topology: Topology
    region: str
    account: str
    suffix: str = ""

    @property
    def owner(self) -> str:
        """The owner tag's value: the project, made unique per test run by the suffix."""
        return f"{self.topology.project}{self.suffix}"

    def _arn(self, service: str, resource: str, region: bool = True) -> str:
        where = self.region if region else ""
        return f"arn:{partition_of(self.region)}:{service}:{where}:{self.account}:{resource}"

    def _suffixed(self, name: str) -> str:
        # The suffix goes before .fifo: AWS requires FIFO names to end with it.
        if name.endswith(".fifo"):
            return f"{name.removesuffix('.fifo')}{self.suffix}.fifo"
        return f"{name}{self.suffix}"

    def queue(self, name: str) -> str:
        return self._suffixed(name)

    def queue_arn(self, name: str) -> str:
        return self._arn("sqs", self.queue(name))

    def topic(self, name: str) -> str:
        return self._suffixed(name)

    def topic_arn(self, name: str) -> str:
        return self._arn("sns", self.topic(name))

    def table(self, name: str) -> str:
        return self._suffixed(name)

    def table_arn(self, name: str) -> str:
        return self._arn("dynamodb", f"table/{self.table(name)}")

    def bus(self, name: str) -> str:
        return name if name == "default" else self._suffixed(name)

    def bus_arn(self, name: str) -> str:
        return self._arn("events", f"event-bus/{self.bus(name)}")

    def rule(self, name: str) -> str:
        return self._suffixed(name)

    def rule_arn(self, name: str) -> str:
        bus = self.topology.rules[name].bus
        path = self.rule(name) if bus == "default" else f"{self.bus(bus)}/{self.rule(name)}"
        return self._arn("events", f"rule/{path}")

    def function(self, name: str) -> str:
        return self._suffixed(name)

    def function_arn(self, name: str) -> str:
        return self._arn("lambda", f"function:{self.function(name)}")

    def layer(self, name: str) -> str:
        return self._suffixed(name)

    def layer_arn(self, name: str) -> str:
        """The layer's ARN without a version (each published version adds ``:N``)."""
        return self._arn("lambda", f"layer:{self.layer(name)}")

    def role(self, function: str) -> str:
        return f"{self.function(function)}-role"

    def role_arn(self, function: str) -> str:
        return self._arn("iam", f"role/{self.role(function)}", region=False)

    def log_group(self, function: str) -> str:
        return f"/aws/lambda/{self.function(function)}"

    def log_group_arn(self, function: str) -> str:
        return self._arn("logs", f"log-group:{self.log_group(function)}")

    def tags(self) -> dict[str, str]:
        return {**self.topology.defaults.tags, OWNER_TAG: self.owner}

    def attribute(self, kind: str, name: str, attr: str, queue_urls: Mapping[str, str]) -> str:
        """The value of ``${kind.name.attr}``; the schema checks guarantee it is declared."""
        if kind == "queues" and attr == "url":
            if name not in queue_urls:
                raise UnresolvedReferenceError(f"queues.{name}.url")
            return queue_urls[name]
        if attr == "log_group":
            return self.log_group(name)
        if attr == "role_arn":
            return self.role_arn(name)
        single = {
            "tables": "table",
            "queues": "queue",
            "topics": "topic",
            "buses": "bus",
            "rules": "rule",
            "functions": "function",
        }[kind]
        method = single if attr == "name" else f"{single}_arn"
        value: str = getattr(self, method)(name)
        return value

    def resolve(self, value: str, queue_urls: Mapping[str, str]) -> str:
        return REF_RE.sub(lambda m: self.attribute(m[1], m[2], m[3], queue_urls), value)
