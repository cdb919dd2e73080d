"""Error classes: one narrow class per failure, all under :class:`SandboxError`."""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every error eda-sandbox raises on purpose."""


class SettingsError(SandboxError):
    """An environment variable holds a value we cannot use; the message names it."""

    def __init__(self, variable: str, value: str, problem: str) -> None:
        self.variable = variable
        self.value = value
        self.problem = problem
        super().__init__(f"{variable}={value!r}: {problem}")


class SandboxStartError(SandboxError):
    """The emulator did not start or did not become ready in time."""


class SandboxElsewhereError(SandboxStartError):
    """This state folder's sandbox already runs, on another host or port than asked for."""


class PortInUseError(SandboxStartError):
    """The sandbox's host and port are held by another process; the message names it."""


class RuntimeNotSupportedError(SandboxError):
    """A Lambda runtime this executor cannot serve (for example nodejs)."""


class RuntimeNotProvisionedError(SandboxError):
    """A supported runtime whose local environment has not been built."""


class TopologyValidationError(SandboxError):
    """The topology file is malformed; the message names file, path and problem."""


class TopologyApplyError(SandboxError):
    """Applying a valid topology failed against the endpoint."""


class PackagingError(SandboxError):
    """A function's code or dependencies could not be packaged."""


class WaitTimeoutError(SandboxError, AssertionError):
    """A bounded wait ran out; the message says what was expected and what was seen.

    It is an AssertionError too, so pytest reports it as a test failure, not an error.
    """

    def __init__(self, message: str, last_value: object = None) -> None:
        self.last_value = last_value
        super().__init__(message)


class JourneyQueryError(SandboxError):
    """The sandbox's journey endpoint (``/_eda-sandbox/journeys``) could not be read."""


class JourneyAssertionError(SandboxError, AssertionError):
    """A journey did not do what a test asserted; the message shows the journey."""


class DlqError(SandboxError):
    """A dead-letter queue operation failed: no such queue, not a DLQ, or a move failed."""


class SnapshotError(SandboxError):
    """Persistence (``EDA_SANDBOX_PERSIST=1``) could not read or write a state snapshot."""


class SnapshotCorruptError(SnapshotError):
    """A snapshot file exists but cannot be read back; the message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"the state snapshot {path} cannot be loaded ({problem}); move it away to start "
            "empty, or delete all persisted state with `make forget`"
        )
