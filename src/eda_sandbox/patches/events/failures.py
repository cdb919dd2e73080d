"""What a failed delivery to a rule target is called, and whether EventBridge retries it.

AWS's dead-letter messages carry an ``ERROR_CODE`` from a documented list (EventBridge
User Guide, "Using dead-letter queues to process undelivered events"), and AWS retries only
what can heal by itself: throttling, server errors, connection failures and time-outs.
A missing permission or a target that no longer exists "fails until an action is taken",
so it goes to the dead-letter queue at once, as does a request the target refuses.
A function that is still Pending or being updated (``ResourceConflictException``) is a
target that is unavailable for now, and is retried.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from eda_sandbox.errors import SandboxError

_NOT_FOUND = frozenset(
    {
        "ResourceNotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NotFound",
        "NotFoundException",
    }
)
_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "AuthorizationError"})
_THROTTLED = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "Throttled",
    }
)
_UNAVAILABLE = frozenset({"ResourceConflictException", "ServiceUnavailable"})


class TargetAccessDeniedError(SandboxError):
    """Raised when a target's resource-based policy does not let EventBridge deliver to it."""


@dataclass(frozen=True)
class Failure:
    """One failed attempt, as the dead-letter message reports it."""

    code: str  # ERROR_CODE
    message: str  # ERROR_MESSAGE
    retryable: bool


def classify(error: BaseException) -> Failure:
    """The ``ERROR_CODE``, message and retry verdict AWS gives ``error``."""
    message = str(error) or type(error).__name__
    if isinstance(error, TargetAccessDeniedError):
        return Failure("NO_PERMISSIONS", message, retryable=False)
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", ""))
        message = str(info.get("Message") or message)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _NOT_FOUND:
            return Failure("NO_RESOURCE", message, retryable=False)
        if code in _DENIED or status == 403:
            return Failure("NO_PERMISSIONS", message, retryable=False)
        if code in _THROTTLED or status == 429:
            return Failure("THROTTLING", message, retryable=True)
        if code in _UNAVAILABLE:
            return Failure("INTERNAL_ERROR", message, retryable=True)
        if status >= 500:
            return Failure("INTERNAL_ERROR", message, retryable=True)
        if code.startswith(("InvalidParameter", "Invalid", "Validation", "MissingParameter")):
            return Failure("INVALID_PARAMETER", message, retryable=False)
        return Failure("SDK_CLIENT_ERROR", message, retryable=False)
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError):
        return Failure("TIMEOUT", message, retryable=True)
    if isinstance(error, EndpointConnectionError | ConnectionClosedError | ConnectionError):
        return Failure("CONNECTION_FAILURE", message, retryable=True)
    # A target kind LocalStack does not deliver to (NotImplementedError), or a bug: retrying
    # cannot help, and the dead-letter queue keeps the event.
    return Failure("INTERNAL_ERROR", message, retryable=False)
