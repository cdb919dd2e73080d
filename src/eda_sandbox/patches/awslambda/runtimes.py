"""CreateFunction and UpdateFunctionConfiguration refuse runtimes the executor cannot run
(applied as Lambda loads, ``patches/loading.py``).

Upstream: LocalStack accepts every runtime AWS lists (``python3.14``, ``java21``, ...) and
only the runtime executor finds out it cannot run it. The function then sits in
``State=Failed`` with ``StateReasonCode=InternalError``, an Invoke answers
``ResourceConflictException``, and LocalStack's hint log tells the user to mount the Docker
socket, which does not apply here: functions run in our Docker-free executor.

What changes: a Zip function whose runtime the executor does not serve is refused by the
API call itself with ``InvalidParameterValueException``, as AWS refuses a runtime it does
not know, and the message lists the runtimes that are served. The list is the executor's
own (``executor.runtimes.adapter_for``), so a runtime added there is accepted here
without a second list. Runtimes AWS does not know keep LocalStack's (AWS's) error, and
container images keep failing at ``State`` as before.
"""

from __future__ import annotations

from typing import Any

from eda_sandbox.errors import RuntimeNotSupportedError
from eda_sandbox.executor.runtimes import adapter_for


def refusal(runtime: str | None) -> str | None:
    """Why the executor cannot run ``runtime``, or None when it can."""
    try:
        adapter_for(runtime)
    except RuntimeNotSupportedError as e:
        return str(e)
    return None


# Applied before the Lambda provider is created (patches/loading.py): its dispatch table
# keeps the handler methods it finds then.
def refuse_unsupported_runtimes(*_args: Any) -> None:
    from localstack.aws.api.lambda_ import InvalidParameterValueException, PackageType
    from localstack.services.lambda_.provider import LambdaProvider
    from localstack.utils.patch import patch

    def refuse(runtime: str | None) -> None:
        if (problem := refusal(runtime)) is not None:
            raise InvalidParameterValueException(problem, Type="User")

    @patch(LambdaProvider._validate_runtime)
    def validate_runtime(fn: Any, self: Any, package_type: Any, runtime: Any) -> None:
        fn(self, package_type, runtime)  # AWS's own enum check first
        if package_type == PackageType.Zip:
            refuse(runtime)

    @patch(LambdaProvider.update_function_configuration)
    def update_function_configuration(fn: Any, self: Any, context: Any, request: Any) -> Any:
        # UpdateFunctionConfiguration checks only AWS's enum, not _validate_runtime.
        if request.get("Runtime"):
            refuse(request["Runtime"])
        return fn(self, context, request)
