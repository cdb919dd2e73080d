"""The plux plugin LocalStack loads for ``LAMBDA_RUNTIME_EXECUTOR=process``."""

from __future__ import annotations

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "process"

    def load(self, *args: Any, **kwargs: Any) -> Any:
        # Imported on load only: LocalStack's Lambda modules are heavy.
        from eda_sandbox.lambda_executor.executor import ProcessRuntimeExecutor

        return ProcessRuntimeExecutor
