"""Internal calls on the event path, handed to the provider without a wire format.

Why: every event crosses LocalStack's services through internal boto clients: SNS
delivers to SQS (``sqs.SendMessage``), EventBridge and SNS invoke Lambda asynchronously
and the async event manager invokes it again (``lambda.Invoke``), event source mappings
receive and delete. Even in memory (``IN_MEMORY_CLIENT``) each such call serializes the
request with botocore, runs LocalStack's whole gateway handler chain, parses it again,
serializes the answer and parses that too; the provider's own work was a tenth of an
SNS-to-SQS delivery, which cost LocalStack 2 ms of CPU, twice a SendMessage from outside
(py-spy and per-operation CPU, bench/RESULTS.md). No library offers a cheaper path:
LocalStack's clients are boto clients.

What the call keeps, so the provider sees the request it would have seen:

- botocore's client-side validation of the parameters (a bad call raises the same
  ``ParamValidationError``);
- the request context the gateway would build: the client's service and operation
  models, protocol, region, the account LocalStack derives from the client's access key,
  the internal-call parameters (``_SourceArn``, ...) as ``internal_request_params``, and
  custom headers (``_CustomHeaders``) as request headers, read by the chain's own trace
  context handler (trace header, request id);
- a private deep copy of the parameters (the wire gave every call its own; SNS passes one
  message's attributes to every queue it fans out to), with a blob payload as a stream;
- the answer as botocore would return it: only the output shape's members, ``None``
  dropped, a streamed payload as a ``StreamingBody``, with ``ResponseMetadata``; a
  provider error is serialized by LocalStack and parsed by botocore, and raised as the
  client's modeled exception, as on the wire.

What it leaves out: the handler chain's CORS, metrics, request logging and schema
validation for public endpoints, none of which applies to an internal call.
"""

from __future__ import annotations

import copy
import io
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel, Shape
from botocore.response import StreamingBody
from botocore.validate import validate_parameters
from localstack import config
from localstack.aws import handlers
from localstack.aws.accounts import get_account_id_from_access_key_id
from localstack.aws.api import CommonServiceException, RequestContext, ServiceException
from localstack.aws.client import parse_response
from localstack.aws.connect import get_service_endpoint
from localstack.aws.protocol.serializer import create_serializer
from localstack.http import Request
from localstack.services.plugins import SERVICE_PLUGINS
from localstack.utils.aws.arns import get_partition

from eda_sandbox.patches.internal_calls.signing import placeholder_authorization

LOG = logging.getLogger(__name__)

# (service, operation) pairs routed directly: the per-event calls whose answers are plain.
DIRECT_OPERATIONS: dict[str, frozenset[str]] = {
    "sqs": frozenset(
        {
            "SendMessage",
            "ReceiveMessage",
            "DeleteMessage",
            "DeleteMessageBatch",
            "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch",
        }
    ),
    "lambda": frozenset({"Invoke"}),
    # The Lambda log uploads (patches/awslambda/logs.py), a third of LocalStack's CPU per
    # EventBridge event before: one per log stream every 0.1 s, and every invocation has one.
    "logs": frozenset({"PutLogEvents"}),
}
# Providers that hand the request itself to moto (``call_moto``) get it serialized, as
# botocore would have sent it; the others work from the parsed parameters alone.
WITH_BODY: frozenset[tuple[str, str]] = frozenset({("logs", "PutLogEvents")})
_CONTENT_TYPES = {"json": "application/x-amz-json-1.0", "rest-json": "application/json"}


def install(client: Any) -> Any:
    """Route ``client``'s direct operations to their providers; other calls stay as they are.

    Only a client of this LocalStack (its internal endpoint, as LocalStack's in-memory
    short circuit checks too); a client pointed anywhere else keeps going there.
    """
    internal = get_service_endpoint()
    if not internal or (client.meta.endpoint_url or "").rstrip("/") != internal.rstrip("/"):
        return client
    service = client.meta.service_model.service_name
    for operation in DIRECT_OPERATIONS.get(service, ()):
        method = xform_name(operation)  # how botocore names the client method
        setattr(client, method, DirectOperation(client, operation, getattr(client, method)))
    return client


class DirectOperation:
    """One client method that calls the provider's handler for its operation."""

    def __init__(self, client: Any, operation: str, fallback: Callable[..., Any]) -> None:
        self.client = client
        self.service_model = client.meta.service_model
        self.operation_model: OperationModel = self.service_model.operation_model(operation)
        self.fallback = fallback
        self.protocol = getattr(self.service_model, "resolved_protocol", None) or (
            self.service_model.protocol
        )
        self.headers = {
            "Host": urlsplit(client.meta.endpoint_url).netloc or "localhost",
            "Content-Type": _CONTENT_TYPES.get(self.protocol, "application/json"),
        }
        if self.protocol == "json":
            prefix = self.service_model.metadata.get("targetPrefix")
            self.headers["X-Amz-Target"] = f"{prefix}.{operation}"
        if self.service_model.is_query_compatible:
            self.headers["x-amzn-query-mode"] = "true"  # as botocore's serializer adds it
        self.signing_name = self.service_model.signing_name or self.service_model.service_name
        self.streamed_input = _blob_payload(self.operation_model.input_shape)
        self.streamed_output = _blob_payload(self.operation_model.output_shape)
        self.status_member = _status_member(self.operation_model.output_shape)
        self.with_body = (self.service_model.service_name, operation) in WITH_BODY
        self._dispatch: Callable[..., Any] | None = None
        self._agent: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args:
            return self.fallback(*args, **kwargs)  # type: ignore[no-any-return]
        # The steps of botocore's ``BaseClient._make_api_call``, minus serialization,
        # signing and sending, so that every handler registered on the client runs as
        # before: LocalStack turns ``_SourceArn`` or ``_CustomHeaders`` into headers this
        # way, and its SQS poller its receive overrides.
        client, operation = self.client, self.operation_model
        request_context: dict[str, Any] = {
            "client_region": client.meta.region_name,
            "client_config": client.meta.config,
            "has_streaming_input": operation.has_streaming_input,
            "auth_type": operation.resolved_auth_type,
            "unsigned_payload": operation.unsigned_payload,
            "auth_options": self.service_model.metadata.get("auth"),
        }
        # A copy: LocalStack's handlers pop ``_SourceArn`` and the like from what they get,
        # and a fallback call still needs them.
        params = client._emit_api_params(
            api_params=dict(kwargs), operation_model=operation, context=request_context
        )
        if client.meta.config.parameter_validation:
            validate_parameters(params, operation.input_shape)
        request_dict = {
            "url_path": "/",
            "query_string": {},
            "method": operation.http.get("method", "POST"),
            "headers": {**self.headers, "User-Agent": self._user_agent()},
            "body": b"",
            "url": client.meta.endpoint_url,
            "context": request_context,
        }
        service_id = self.service_model.service_id.hyphenize()
        _, early = client.meta.events.emit_until_response(
            f"before-call.{service_id}.{operation.name}",
            model=operation,
            params=request_dict,
            request_signer=client._request_signer,
            context=request_context,
        )
        if early is not None:  # a handler answered in place of the service
            return self.fallback(**kwargs)  # type: ignore[no-any-return]
        http, parsed = self._call(params, request_dict)
        client.meta.events.emit(
            f"after-call.{service_id}.{operation.name}",
            http_response=http,
            parsed=parsed,
            model=operation,
            context=request_context,
        )
        if http.status_code >= 300:
            info = parsed.get("Error", {})
            code = request_context.get("error_code_override") or info.get("Code")
            raise client.exceptions.from_code(code)(parsed, operation.name)
        return dict(parsed)

    def _call(self, params: dict[str, Any], request_dict: dict[str, Any]) -> tuple[Any, Any]:
        """The provider's answer, retried as the client's retry policy says."""
        attempts = 1
        while True:
            # Each attempt gets its own copy, as each request on the wire is parsed anew.
            context = self._context(self._request(params), request_dict["headers"])
            try:
                result = self._handler()(context, context.service_request) or {}
            except Exception as e:  # noqa: BLE001 - answered as the gateway answers it
                http, parsed = self._error_response(e, context)
                # The client's own retry policy (mode, attempts, back-off) decides.
                if self.client._endpoint._needs_retry(
                    attempts, self.operation_model, request_dict, (http, parsed)
                ):
                    attempts += 1
                    continue
                parsed["ResponseMetadata"]["RetryAttempts"] = attempts - 1
                return http, parsed
            answer = self._answer(result, context)
            answer["ResponseMetadata"]["RetryAttempts"] = attempts - 1
            status = answer["ResponseMetadata"]["HTTPStatusCode"]
            return AWSResponse(request_dict["url"], status, {}, None), answer

    def _answer(self, result: Any, context: Any) -> dict[str, Any]:
        answer: dict[str, Any] = _shaped(result, self.operation_model.output_shape)
        if self.streamed_output:
            # botocore hands a streamed payload over as a stream, empty when there is none.
            data = answer.get(self.streamed_output) or b""
            data = data.encode() if isinstance(data, str) else bytes(data)
            answer[self.streamed_output] = StreamingBody(io.BytesIO(data), len(data))
        status = answer.get(self.status_member, 200) if self.status_member else 200
        answer["ResponseMetadata"] = {
            "RequestId": context.request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": {},
        }
        return answer

    def _request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        params = copy.deepcopy(kwargs)
        if self.streamed_input and self.streamed_input in params:
            body = params[self.streamed_input]
            if isinstance(body, str | bytes | bytearray):
                # The parser hands a blob payload to the provider as a stream.
                params[self.streamed_input] = io.BytesIO(
                    body.encode() if isinstance(body, str) else bytes(body)
                )
        return params

    def _handler(self) -> Callable[..., Any]:
        if self._dispatch is None:
            service = SERVICE_PLUGINS.require(self.service_model.service_name)
            self._dispatch = service.skeleton.dispatch_table[self.operation_model.name]
        return self._dispatch

    def _context(self, params: dict[str, Any], headers: dict[str, str]) -> Any:
        """The request context LocalStack's gateway would build for this request."""

        credentials = self.client._request_signer._credentials
        region = self.client.meta.region_name
        account = get_account_id_from_access_key_id(credentials.access_key)
        headers = {
            **headers,
            # What signing and the chain would add: the credential scope (moto reads the
            # region from it) and the account for moto.
            "Authorization": placeholder_authorization(
                credentials.access_key,
                time.strftime("%Y%m%d", time.gmtime()),
                region,
                self.signing_name,
            ),
            "x-moto-account-id": account,
        }
        if self.with_body:
            wire = self.client._serializer.serialize_to_request(params, self.operation_model)
            request = Request(
                wire["method"],
                wire["url_path"],
                headers={**headers, **wire["headers"]},
                body=wire["body"],
                query_string=urlencode(wire["query_string"], doseq=True),
                server=None,
            )
        else:
            request = Request("POST", "/", headers=headers, server=None)
        # Any: the gateway fills these fields by duck typing too (e.g. a read-only DTO).
        context: Any = RequestContext(request)
        context.service = self.service_model
        context.operation = self.operation_model
        context.protocol = self.protocol
        # What the chain reads from the signature's credential scope and access key.
        context.region = region
        context.partition = get_partition(region)
        context.account_id = account
        context.service_request = params
        # The chain's own handlers for what the headers carry: the internal-call
        # parameters (``x-localstack-data``), the trace header (created when absent) and
        # a request id a caller carries over (Lambda's async retries do).
        handlers.add_internal_request_params(None, context, None)  # type: ignore[arg-type]
        handlers.parse_trace_context(None, context, None)  # type: ignore[arg-type]
        return context

    def _user_agent(self) -> str:
        # Built once: botocore rebuilds it per request, a seventh of an internal call.
        if self._agent is None:
            self._agent = str(self.client._user_agent_creator.to_string())
        return self._agent

    def _error_response(self, error: Exception, context: Any) -> tuple[AWSResponse, dict[str, Any]]:
        """The error response the client would receive: LocalStack's serializer writes it
        and botocore's parser reads it, as on the wire (errors are rare, so the round trip
        costs nothing that matters and keeps every code and field exact)."""

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
        http = AWSResponse(
            "http://" + self.headers["Host"], response.status_code, dict(response.headers), None
        )
        return http, parsed


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


def _blob_payload(shape: Shape | None) -> str | None:
    """The member that is the whole HTTP body, when it is a blob (Lambda's ``Payload``)."""
    if shape is None:
        return None
    payload = shape.serialization.get("payload")
    members = getattr(shape, "members", {})
    if payload and payload in members and members[payload].type_name == "blob":
        return str(payload)
    return None


def _status_member(shape: Shape | None) -> str | None:
    """The output member bound to the HTTP status code (Lambda's ``StatusCode``)."""
    for name, member in getattr(shape, "members", {}).items():
        if member.serialization.get("location") == "statusCode":
            return str(name)
    return None
