"""Lambda runtime environments, one adapter per family (``base.RuntimeAdapter``)."""

from eda_sandbox.errors import RuntimeNotProvisionedError, RuntimeNotSupportedError
from eda_sandbox.executor.runtimes.base import (
    RuntimeAdapter,
    RuntimeBuildError,
    RuntimeEnv,
    adapter_for,
    available_runtimes,
    build,
    locate,
)
from eda_sandbox.executor.runtimes.node import NPM_CI, NodeRuntime
from eda_sandbox.executor.runtimes.python import PythonRuntime, find_interpreter, repo_constraints

__all__ = [
    "NPM_CI",
    "NodeRuntime",
    "PythonRuntime",
    "RuntimeAdapter",
    "RuntimeBuildError",
    "RuntimeEnv",
    "RuntimeNotProvisionedError",
    "RuntimeNotSupportedError",
    "adapter_for",
    "available_runtimes",
    "build",
    "find_interpreter",
    "locate",
    "repo_constraints",
]
