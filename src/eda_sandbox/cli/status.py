"""Exit statuses shared by every command."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0
    # A query whose answer is "no" (``status`` when no sandbox runs).
    NOT_RUNNING = 1
    # A SandboxError: bad settings, a start that failed, an apply that failed.
    ERROR = 2
