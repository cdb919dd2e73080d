"""Fixtures for the sandbox's unit tests: LocalStack's wire, in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from localstack.aws import handlers
from localstack.aws.api import RequestContext
from localstack.aws.client import _ResponseStream, create_http_request
from localstack.aws.connect import _handler_create_request_parameters, _handler_inject_dto_header
from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.http import Response

from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.internal_calls import direct as direct_calls
from eda_sandbox.patches.tracing.base import Instrumentor


@pytest.fixture
def wire_client() -> Callable[[str, Skeleton], Any]:
    """A client like LocalStack's internal ones, whose requests go through LocalStack's
    parser, its context handlers, the provider and LocalStack's serializer."""
    return _wire_client


@pytest.fixture
def traced_client(
    wire_client: Callable[[str, Skeleton], Any],
) -> Iterator[Callable[..., tuple[Any, JourneyStore]]]:
    """``traced_client(service, instrumentor_class, provider_class)``: a wire client of
    that provider with the instrumentor's wrappers in place, and the store they record
    into (``store=``: one a client made before records into, for hops across services);
    the originals are put back after the test."""
    instrumentors: list[Instrumentor] = []

    def make(
        service: str,
        instrumentor_class: type[Instrumentor],
        provider_class: type,
        store: JourneyStore | None = None,
    ) -> tuple[Any, JourneyStore]:
        store = JourneyStore(10) if store is None else store
        instrumentor = instrumentor_class(store)
        # Before the skeleton: a provider's dispatch table binds its methods when built.
        instrumentor.instrument()
        instrumentors.append(instrumentor)
        return wire_client(service, Skeleton(load_service(service), provider_class())), store

    yield make
    for instrumentor in reversed(instrumentors):
        instrumentor.uninstrument()


@pytest.fixture
def traced_sqs(
    traced_client: Callable[..., tuple[Any, JourneyStore]], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, JourneyStore]:
    """A wire client of LocalStack's SQS provider with the SQS tracing wrappers."""
    from localstack import config as localstack_config
    from localstack.services.sqs.provider import SqsProvider

    from eda_sandbox.patches.tracing.sqs import SqsInstrumentor

    monkeypatch.setattr(localstack_config, "SQS_DISABLE_CLOUDWATCH_METRICS", True)
    return traced_client("sqs", SqsInstrumentor, SqsProvider)


@pytest.fixture
def direct_call() -> Callable[..., direct_calls.DirectOperation]:
    """The direct call for ``operation`` on a wire client, dispatched to ``skeleton``."""
    return _direct


def _wire_client(service: str, skeleton: Skeleton) -> Any:
    client = boto3.session.Session().client(
        service,
        region_name="eu-west-1",
        endpoint_url="http://localhost.localstack.cloud:4566",
        aws_access_key_id="111111111111",
        aws_secret_access_key="secret",
    )
    client.meta.events.register("provide-client-params.*.*", _handler_create_request_parameters)
    client.meta.events.register("before-call.*.*", _handler_inject_dto_header)

    def wire(request: Any, **_kwargs: Any) -> AWSResponse:
        context = RequestContext(create_http_request(request))
        context.service = client.meta.service_model
        response = Response()
        for handler in (
            handlers.add_internal_request_params,
            handlers.parse_service_name,
            handlers.add_region_from_header,
            handlers.add_account_id,
            handlers.parse_trace_context,
            handlers.parse_service_request,
        ):
            handler(None, context, response)
        answer = skeleton.invoke(context)
        return AWSResponse(
            context.request.url, answer.status_code, answer.headers, _ResponseStream(answer)
        )

    client.meta.events.register_first("before-send.*.*", wire)
    return client


def _direct(
    client: Any, skeleton: Skeleton, operation: str = "SendMessage"
) -> direct_calls.DirectOperation:
    method = client.meta.method_to_api_mapping
    name = next(m for m, api in method.items() if api == operation)
    direct = direct_calls.DirectOperation(client, operation, getattr(client, name))
    direct._dispatch = skeleton.dispatch_table[operation]
    return direct
