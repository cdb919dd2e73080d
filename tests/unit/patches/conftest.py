"""Fixtures for the sandbox's unit tests: LocalStack's wire, in this process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from localstack.aws import handlers
from localstack.aws.api import RequestContext
from localstack.aws.client import _ResponseStream, create_http_request
from localstack.aws.connect import _handler_create_request_parameters, _handler_inject_dto_header
from localstack.aws.skeleton import Skeleton
from localstack.http import Response

from eda_sandbox.patches.internal_calls import direct as direct_calls


@pytest.fixture
def wire_client() -> Callable[[str, Skeleton], Any]:
    """A client like LocalStack's internal ones, whose requests go through LocalStack's
    parser, its context handlers, the provider and LocalStack's serializer."""
    return _wire_client


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
