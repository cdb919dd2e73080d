"""What a call finder reports: the SDK calls in a function's code, and those it cannot read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Origin:
    file: Path
    line: int

    def show(self, root: Path) -> str:
        try:
            shown = self.file.relative_to(root)
        except ValueError:
            shown = self.file
        return f"{shown}:{self.line}"


@dataclass(frozen=True)
class Given:
    """Where a call's resource comes from: an environment variable, or a literal."""

    env: str | None = None
    literal: str | None = None

    def show(self) -> str:
        return f"${self.env}" if self.env is not None else repr(self.literal)


@dataclass(frozen=True)
class EnvValue:
    """While finding calls: the value of an environment variable (``os.environ["X"]``)."""

    name: str


@dataclass(frozen=True)
class LiteralValue:
    """While finding calls: a string literal in the code."""

    value: str


@dataclass(frozen=True)
class SdkCall:
    """One AWS operation the code makes (or a library helper makes for it)."""

    origin: Origin
    service: str  # botocore's name: sqs, dynamodb, events, logs, ...
    operation: str  # botocore's operation name: SendMessageBatch
    given: tuple[Given, ...] = ()
    via: str = ""  # "boto3 client", "Powertools idempotency", "SDK v3 command", ...


@dataclass(frozen=True)
class Unresolved:
    """Code that talks to AWS in a way the finder cannot pin down (dynamic service name)."""

    origin: Origin
    what: str
    reason: str


@dataclass
class Found:
    calls: list[SdkCall]
    unresolved: list[Unresolved]
    files: list[Path]

    def extend(self, other: Found) -> None:
        self.calls.extend(other.calls)
        self.unresolved.extend(other.unresolved)
        self.files.extend(other.files)
