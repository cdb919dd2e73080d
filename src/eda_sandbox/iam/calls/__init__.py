"""Call finders: the AWS SDK calls in a function's code, one module per language."""

from eda_sandbox.iam.calls.base import Found, Given, Origin, SdkCall, Unresolved

__all__ = ["Found", "Given", "Origin", "SdkCall", "Unresolved"]
