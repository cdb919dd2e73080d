"""The plux plugin LocalStack loads for ``LAMBDA_RUNTIME_EXECUTOR=process``."""

from __future__ import annotations

import logging
from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

LOG = logging.getLogger(__name__)
_PATCHED: list[bool] = []


def _tolerate_failed_versions() -> None:
    """Let DeleteFunction remove a function whose version failed to start.

    LocalStack 2026.3.0 drops the version manager of a version that failed to prepare
    (for us: an unsupported runtime), and DeleteFunction then fails with InternalError
    "Unable to find version manager", leaving the function behind. There is nothing left
    to stop for such a version, so the error is safe to ignore.
    """
    if _PATCHED:
        return
    from localstack.services.lambda_.invocation.lambda_service import LambdaService
    from localstack.utils.patch import patch

    @patch(LambdaService.stop_version)
    def stop_version(fn: Any, self: Any, qualified_arn: str) -> None:
        try:
            fn(self, qualified_arn)
        except ValueError as e:
            if "Unable to find version manager" not in str(e):
                raise
            LOG.debug("no running version to stop for %s (it failed to start)", qualified_arn)

    _PATCHED.append(True)


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "process"

    def load(self, *args: Any, **kwargs: Any) -> Any:
        # Imported on load only: LocalStack's Lambda modules are heavy.
        from eda_sandbox.executor.executor import ProcessRuntimeExecutor

        _tolerate_failed_versions()
        return ProcessRuntimeExecutor
