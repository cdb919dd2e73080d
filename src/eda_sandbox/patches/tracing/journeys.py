"""Records every hop of every event inside LocalStack (an ``on_infra_start`` hook).

Why: when an end-to-end test fails, the question is where the event went: did a filter
policy drop it, a rule not match, the consumer throw, how often was it retried, is it in
a DLQ and why. LocalStack passes a trace header along and records nothing. The patches
in this folder record each hop into the journey store (``eda_sandbox.journeys``), which
``/_eda-sandbox/journeys`` serves; ``EDA_SANDBOX_TRACING=0`` turns recording off.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from eda_sandbox.config import load_settings
from eda_sandbox.patches.loading import before_service_loads
from eda_sandbox.patches.tracing.awslambda import LambdaInstrumentor
from eda_sandbox.patches.tracing.base import Instrumentor, set_enabled, set_instrumented
from eda_sandbox.patches.tracing.events import EventsInstrumentor
from eda_sandbox.patches.tracing.sns import SnsInstrumentor
from eda_sandbox.patches.tracing.sqs import SqsInstrumentor

INSTRUMENTORS: dict[str, Instrumentor] = {
    "sns": SnsInstrumentor(),
    "sqs": SqsInstrumentor(),
    "lambda": LambdaInstrumentor(),
    "events": EventsInstrumentor(),
}


def instrument_all() -> None:
    for instrumentor in INSTRUMENTORS.values():
        instrumentor.instrument()
    set_instrumented(True)


def instrument_as_services_load() -> None:
    """Each service's wrappers go in just before its provider is created (which binds the
    methods into its dispatch table), so a start imports no provider module for tracing;
    the wrappers are in place before the service can serve its first request."""
    for service, instrumentor in INSTRUMENTORS.items():
        before_service_loads(service, instrumentor.instrument)
    set_instrumented(True)


def uninstrument_all() -> None:
    for instrumentor in INSTRUMENTORS.values():
        instrumentor.uninstrument()
    set_instrumented(False)


# Before any service loads (the gateway serves after the on_infra_start hooks).
@hooks.on_infra_start(priority=10)
def record_journeys(*_args: Any) -> None:
    from localstack.services.edge import ROUTER

    from eda_sandbox.patches.tracing.endpoint import JourneyEndpoints

    settings = load_settings()
    set_enabled(settings.tracing)
    # The endpoint answers with tracing off too ("tracing": false), so a client can tell.
    ROUTER.add(JourneyEndpoints())
    if settings.tracing:
        instrument_as_services_load()
