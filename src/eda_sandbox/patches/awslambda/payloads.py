"""Lambda's request payload limits on Invoke (applied as Lambda
loads, ``patches/loading.py``, always on).

Why: LocalStack 2026.3.0 passes an Invoke payload of any size to the function. AWS
refuses a synchronous payload over 6 MiB and an asynchronous (``InvocationType=Event``)
one over 1 MiB with ``RequestEntityTooLargeException`` (HTTP 413), before the function
runs. The limits are the Invoke API reference's ("For synchronous invocations, the
maximum payload size is 6 MB. For asynchronous invocations, the maximum payload size is
1 MB"; the asynchronous limit was 256 KB until late 2025), the messages the ones AWS
returns. The response limit (6,291,556 bytes) is the init's (``executor/init_limits.py``).
"""

from __future__ import annotations

from typing import Any

MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024


def too_large(size: int, invocation_type: str | None) -> str | None:
    """AWS's message for an Invoke payload of ``size`` bytes, or None when it fits."""
    if invocation_type == "Event":
        if size > MAX_ASYNC_REQUEST_BYTES:
            return (
                f"{size} byte payload is too large for the Event invocation type "
                f"(limit {MAX_ASYNC_REQUEST_BYTES} bytes)"
            )
        return None
    if size > MAX_SYNC_REQUEST_BYTES:
        return (
            f"Request must be smaller than {MAX_SYNC_REQUEST_BYTES} bytes for the "
            "InvokeFunction operation"
        )
    return None


def enforce_invoke_payload_limits(*_args: Any) -> None:
    from localstack.services.lambda_.invocation.lambda_models import (
        RequestEntityTooLargeException,
    )
    from localstack.services.lambda_.invocation.lambda_service import LambdaService
    from localstack.utils.patch import patch

    # The service, not the provider: LocalStack's dispatch table holds the provider's
    # methods from before this hook runs; the provider looks the service's up per call.
    @patch(LambdaService.invoke)
    def invoke(fn: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        payload = kwargs.get("payload")
        if payload is not None:
            message = too_large(len(payload), kwargs.get("invocation_type"))
            if message is not None:
                raise RequestEntityTooLargeException(message)
        return fn(self, *args, **kwargs)
