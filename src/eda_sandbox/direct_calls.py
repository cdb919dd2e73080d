"""SNS's deliveries to SQS, handed to the SQS provider without a wire format in between.

Why: SNS delivers each message to each subscribed queue with an internal boto client
(``sqs.SendMessage``). Even in memory (``IN_MEMORY_CLIENT``) that call serializes the
request with botocore, runs LocalStack's whole gateway handler chain, parses it again,
serializes the answer and parses that too. The SQS provider's own work was a tenth of it:
an SNS-to-SQS delivery cost LocalStack 2 ms of CPU, twice a SendMessage from outside
(py-spy and per-operation CPU, bench/RESULTS.md), on every event of the reference
pipeline. No library offers a cheaper path: LocalStack's clients are boto clients.

What the call keeps, so the provider sees the request it would have seen:

- botocore's client-side validation of the parameters (a bad call raises the same
  ``ParamValidationError``);
- the request context the gateway would build: the client's service and operation
  models, protocol, region, the account LocalStack derives from the client's access key,
  and the internal-call parameters (``_SourceArn``, ``_ServicePrincipal``, ...) as
  ``internal_request_params``;
- a private deep copy of the parameters (the wire gave every call its own; SNS passes one
  message's attributes to every queue it fans out to);
- the answer as botocore would return it: only the output shape's members, ``None``
  dropped, with ``ResponseMetadata``; a provider error is serialized by LocalStack and
  parsed by botocore, and raised as the client's modeled exception, as on the wire.

What it leaves out: the handler chain's CORS, metrics, request logging and schema
validation for public endpoints, none of which applies to an internal call.

Only ``sqs.SendMessage`` is routed here; every other call, and a call with
``_CustomHeaders``, goes through the client as before.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape
from botocore.validate import validate_parameters

LOG = logging.getLogger(__name__)

# (service, operation) pairs routed directly: the per-event calls whose answers are plain.
# Only operations whose provider works from the parsed request: a provider that forwards
# the raw request to moto (``call_moto``, e.g. CloudWatch Logs) needs the wire format.
DIRECT_OPERATIONS: dict[str, frozenset[str]] = {"sqs": frozenset({"SendMessage"})}


def install(client: Any) -> Any:
    """Route ``client``'s direct operations to their providers; other calls stay as they are."""
    service = client.meta.service_model.service_name
    for operation in DIRECT_OPERATIONS.get(service, ()):
        method = _method_name(client, operation)
        if method is not None:
            setattr(client, method, DirectOperation(client, operation, getattr(client, method)))
    return client


def _method_name(client: Any, operation: str) -> str | None:
    for method, api in client.meta.method_to_api_mapping.items():
        if api == operation:
            return str(method)
    return None


class DirectOperation:
    """One client method that calls the provider's handler for its operation."""

    def __init__(self, client: Any, operation: str, fallback: Callable[..., Any]) -> None:
        self.client = client
        self.service_model = client.meta.service_model
        self.operation_model: OperationModel = self.service_model.operation_model(operation)
        self.fallback = fallback
        self.host = urlsplit(client.meta.endpoint_url).netloc or "localhost"
        self._dispatch: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or "_CustomHeaders" in kwargs:
            return self.fallback(*args, **kwargs)  # type: ignore[no-any-return]
        from localstack.aws.connect import InternalRequestParameters

        internal: dict[str, Any] = {}
        for member in InternalRequestParameters.__annotations__:
            parameter = "_" + "".join(part.title() for part in member.split("_"))
            if parameter in kwargs:
                internal[member] = kwargs.pop(parameter)
        params = copy.deepcopy(kwargs)
        validate_parameters(params, self.operation_model.input_shape)
        context = self._context(params, internal)
        try:
            result = self._handler()(context, params) or {}
        except Exception as e:  # mapped to what a client would raise
            raise self._client_error(e, context) from e
        answer = _shaped(result, self.operation_model.output_shape)
        answer["ResponseMetadata"] = {
            "RequestId": context.request_id,
            "HTTPStatusCode": 200,
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        }
        return answer  # type: ignore[no-any-return]

    def _handler(self) -> Callable[..., Any]:
        if self._dispatch is None:
            from localstack.services.plugins import SERVICE_PLUGINS

            service = SERVICE_PLUGINS.require(self.service_model.service_name)
            self._dispatch = service.skeleton.dispatch_table[self.operation_model.name]
        return self._dispatch

    def _context(self, params: dict[str, Any], internal: dict[str, Any]) -> Any:
        from localstack.aws.accounts import get_account_id_from_access_key_id
        from localstack.aws.api import RequestContext
        from localstack.http import Request
        from localstack.utils.aws.arns import get_partition

        credentials = self.client._request_signer._credentials
        region = self.client.meta.region_name
        request = Request(
            "POST",
            "/",
            headers={"Host": self.host, "Content-Type": "application/x-amz-json-1.0"},
            server=None,
        )
        # Any: the gateway fills these fields by duck typing too (e.g. a read-only DTO).
        context: Any = RequestContext(request)
        context.service = self.service_model
        context.operation = self.operation_model
        context.protocol = getattr(self.service_model, "resolved_protocol", None) or (
            self.service_model.protocol
        )
        context.region = region
        context.partition = get_partition(region)
        context.account_id = get_account_id_from_access_key_id(credentials.access_key)
        context.internal_request_params = MappingProxyType(internal)
        context.service_request = params
        return context

    def _client_error(self, error: Exception, context: Any) -> ClientError:
        """The exception the client would raise: LocalStack's serializer writes the error
        response and botocore's parser reads it, as on the wire (errors are rare, so the
        round trip costs nothing that matters and keeps every code and field exact)."""
        from localstack import config
        from localstack.aws.api import CommonServiceException, ServiceException
        from localstack.aws.client import parse_response
        from localstack.aws.protocol.serializer import create_serializer

        operation = self.operation_model
        if not isinstance(error, ServiceException):
            # What the gateway's exception handler makes of an unexpected provider error.
            LOG.exception("direct %s.%s failed", self.service_model.service_name, operation.name)
            message = f"exception while calling {self.service_model.service_name}."
            message += f"{operation.name}: {error}"
            error = CommonServiceException(
                "InternalError", message, status_code=501 if config.FAIL_FAST else 500
            )
        serializer = create_serializer(self.service_model, context.protocol)
        response = serializer.serialize_error_to_response(
            error, operation, context.request.headers, context.request_id
        )
        parsed = parse_response(operation, context.protocol, response)
        metadata = parsed.setdefault("ResponseMetadata", {})
        metadata.setdefault("RequestId", context.request_id)
        metadata.setdefault("RetryAttempts", 0)
        # botocore picks the exception class by the query code when there is one.
        info = parsed.get("Error", {})
        code = info.get("QueryErrorCode") or info.get("Code", "")
        return self.client.exceptions.from_code(code)(parsed, operation.name)


def _shaped(value: Any, shape: Shape | None) -> Any:
    """``value`` as a client would parse it: undeclared members and ``None`` left out."""
    if shape is None:
        return {}
    if shape.type_name == "structure":
        members = shape.members
        return {
            name: _shaped(value[name], members[name])
            for name in members
            if value.get(name) is not None
        }
    if shape.type_name == "list":
        return [_shaped(item, shape.member) for item in value]
    if shape.type_name == "map":
        return {k: _shaped(v, shape.value) for k, v in value.items()}
    return value
