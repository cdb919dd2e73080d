"""Errors of the least-privilege check."""

from __future__ import annotations

from eda_sandbox.errors import SandboxError


class IamCheckError(SandboxError):
    """Raised when the IAM check cannot run at all (not when it finds problems)."""


class IamToolMissingError(IamCheckError):
    """Raised when a library the check needs (policy_sentry, parliament, tree-sitter) is absent."""
