"""LocalStack's services load after its gateway serves, and a request never overtakes a
load (``on_infra_start`` and ``on_infra_ready`` hooks).

Why: with ``EAGER_SERVICE_LOADING=1`` LocalStack loads every service in ``SERVICES``
before its gateway binds the port, so ``eda-sandbox up`` waited for all nine (a quarter of
a start, bench/RESULTS.md, issue 16). The launcher now sets it to 0 and this module
loads them in one background thread as soon as the gateway serves
(:func:`load_services_in_background`), so what a service does at start without any
request (restoring a snapshot, SQS's and Lambda's background workers) still happens at
start. A request that comes first loads its service itself, as LocalStack's lazy loading
does: ``ServiceManager.require`` loads under the service's lock, so a second caller waits
for the first and is served by the loaded service.

Two changes to upstream, both patched by name:

- A fix (:func:`_patched_require_service`): LocalStack's ``ServiceLoader`` marks a
  service loaded before it adds the service's operations to the request router, so a
  request arriving in between found no handler ("no handler for operation 'GetRole' on
  service 'iam'", seen on a fresh clone's first start). The wrapper holds the loader's
  own per-service lock around the whole first load, so the second request waits until
  the operations are routed.
- :func:`before_service_loads`: work a patch needs done just before a service's provider
  is created (the journey tracing's wrappers, which the provider's dispatch table binds
  when it is built; the Lambda and EventBridge patches, ``SERVICE_PATCHES``), run in the
  thread that loads the service, so a start does not pay for the modules of services
  that have not loaded yet.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import wrapt
from localstack.runtime import hooks

from eda_sandbox.config import load_settings

LOG = logging.getLogger(__name__)

# The versions whose internals the wrappers were written against.
SUPPORTED = ("localstack-core==2026.3.0",)
_LOADER = "localstack.aws.handlers.service_plugin"
_PLUGINS = "localstack.services.plugins"

_before_load: dict[str, list[Callable[[], None]]] = defaultdict(list)
_loaded: set[str] = set()
_lock = threading.Lock()


def before_service_loads(service: str, fn: Callable[[], None]) -> None:
    """Run ``fn`` before ``service``'s provider is created, in the thread that loads it
    (at once if the service has already loaded). An error in ``fn`` is logged and the
    service still loads: a patch must not cost the user a service."""
    with _lock:
        if service not in _loaded:
            _before_load[service].append(fn)
            return
    _run(service, fn)


def _run(service: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # the service must load even when a patch of it cannot
        LOG.exception("could not prepare service %s before it loads", service)


def _patched_load_service_plugin(
    wrapped: Callable[..., Any], _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    # LocalStack calls this once per service, under that service's load lock.
    name = str(kwargs.get("name", args[0] if args else ""))
    with _lock:
        pending = _before_load.pop(name, [])
        _loaded.add(name)
    for fn in pending:
        _run(name, fn)
    return wrapped(*args, **kwargs)


def _patched_require_service(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    context = kwargs.get("context", args[1] if len(args) > 1 else None)
    service = getattr(context, "service", None)
    routed: set[str] = instance.__dict__.setdefault("_eda_routed", set())
    if service is None or service.service_name in routed:
        return wrapped(*args, **kwargs)
    name = service.service_name
    # The loader's own lock (re-entrant, so the original takes it again inside): a second
    # first request waits here until the first one has added the service's operations.
    with instance.service_locks[name]:
        result = wrapped(*args, **kwargs)
        routed.add(name)
    return result


# Before every other patch (they may call before_service_loads) and before LocalStack's
# eager loading (priority 0), should someone turn it back on.
@hooks.on_infra_start(priority=50)
def route_before_marking_loaded(*_args: Any) -> None:
    wrapt.wrap_function_wrapper(_LOADER, "ServiceLoader.require_service", _patched_require_service)
    wrapt.wrap_function_wrapper(
        _PLUGINS, "ServicePluginManager._load_service_plugin", _patched_load_service_plugin
    )


# The patches of one service, applied when it loads rather than at start: each imports
# that service's modules (Lambda's provider alone was a sixth of a start), which no request
# needs before the service loads. "module:function", applied in this order.
SERVICE_PATCHES: dict[str, tuple[str, ...]] = {
    "lambda": (
        "eda_sandbox.patches.awslambda.runtimes:refuse_unsupported_runtimes",
        "eda_sandbox.patches.awslambda.esm:tune_event_source_mappings",
        "eda_sandbox.patches.awslambda.esm:widen_async_invoker_pool",
        "eda_sandbox.patches.awslambda.logs:batch_lambda_log_uploads",
        "eda_sandbox.patches.awslambda.starts:cap_environment_starts",
        "eda_sandbox.patches.awslambda.threads:share_lambda_timer_threads",
        "eda_sandbox.patches.awslambda.payloads:enforce_invoke_payload_limits",
        "eda_sandbox.patches.awslambda.dlq:dead_letter_request_id",
        "eda_sandbox.patches.awslambda.esm_errors:explain_batch_failures",
        "eda_sandbox.patches.awslambda.trace_header:carry_trace_header_to_invocations",
    ),
    "events": (
        "eda_sandbox.patches.events.delivery:deliver_targets_as_aws_does",
        "eda_sandbox.patches.events.size:size_put_events_as_aws",
    ),
}


def resolve(target: str) -> Callable[[], None]:
    """``"module:function"`` -> the function, importing its module."""
    module, _, name = target.partition(":")
    fn: Callable[[], None] = getattr(importlib.import_module(module), name)
    return fn


def _apply(target: str) -> None:
    resolve(target)()


@hooks.on_infra_start(priority=40)
def patch_services_as_they_load(*_args: Any) -> None:
    for service, targets in SERVICE_PATCHES.items():
        for target in targets:
            before_service_loads(service, functools.partial(_apply, target))


# The order the topology apply first needs them in (roles, then queues, topics, tables,
# log groups, functions, rules), so the apply's first calls find them loaded.
LOAD_ORDER = ("iam", "sts", "sqs", "sns", "dynamodb", "logs", "lambda", "events", "s3")


def load_order(services: set[str]) -> list[str]:
    known = [s for s in LOAD_ORDER if s in services]
    return known + sorted(services - set(known))


def load_services(services: list[str]) -> None:
    """Load each service as LocalStack's eager loading would, one after another."""
    from localstack.services.plugins import SERVICE_PLUGINS, ServiceDisabled

    for api in services:
        try:
            SERVICE_PLUGINS.require(api)
        except ServiceDisabled as e:
            LOG.debug("%s", e)
        except Exception:  # the health endpoint reports it as "error"; load the others
            LOG.error("could not load service %s", api, exc_info=LOG.isEnabledFor(logging.DEBUG))


def _eager() -> bool:
    from localstack import config

    return bool(config.EAGER_SERVICE_LOADING)


@hooks.on_infra_ready(should_load=lambda: not _eager())
def load_services_in_background(*_args: Any) -> None:
    """The gateway serves: load the configured services without holding anything up.

    Only the sandbox's own list (``EDA_SANDBOX_SERVICES``), not the services LocalStack
    lists as theirs' dependencies (``dynamodbstreams`` and ``kinesis`` for DynamoDB, which
    the sandbox's moto DynamoDB does not use): those still load on a first request."""
    services = load_order(set(load_settings().services))
    threading.Thread(
        target=load_services, args=(services,), name="eda-service-loader", daemon=True
    ).start()
