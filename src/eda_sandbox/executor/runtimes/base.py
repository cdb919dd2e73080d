"""What every local stand-in for an AWS managed Lambda runtime provides.

A runtime family (Python, Node.js) is a :class:`RuntimeAdapter`. Its environments are
built once by an install step (``eda-sandbox runtimes``, run by ``make up``) under
``Settings.runtimes_dir`` and never download anything at run time. The executor asks the
adapter for the runtime's command line and the variables AWS's runtime sets; everything
else (the init, the Runtime API, logs, timeouts) is the same for every family.
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from eda_sandbox.errors import RuntimeNotSupportedError, SandboxError
from eda_sandbox.executor.layers import Opt

MARKER = "eda-sandbox-runtime.txt"


class RuntimeBuildError(SandboxError):
    """A runtime environment could not be built (no interpreter, pip or npm failed)."""


@dataclass(frozen=True)
class RuntimeEnv:
    """A built runtime environment.

    ``executable`` runs the runtime (python, node); ``library`` holds what AWS's managed
    runtime ships besides it (awslambdaric and boto3's site-packages, the AWS SDK for
    JavaScript's node_modules).
    """

    runtime: str
    root: Path
    executable: Path
    library: Path

    @property
    def python(self) -> Path:
        # The Python runtimes' name for it (the zygotes and tests use it).
        return self.executable

    @property
    def site_packages(self) -> Path:
        return self.library


class RuntimeAdapter(ABC):
    """One runtime family. Subclasses register themselves by defining ``RUNTIMES``."""

    # runtime name -> the version it pins (a Python minor, a Node.js release)
    RUNTIMES: ClassVar[Mapping[str, str]] = {}
    # Whether the per-runtime fork servers (zygote.py) can start its environments.
    PREFORKS: ClassVar[bool] = False
    _registry: ClassVar[dict[str, type[RuntimeAdapter]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.RUNTIMES:
            RuntimeAdapter._registry[name] = cls

    @classmethod
    def supported(cls) -> list[str]:
        return sorted(RuntimeAdapter._registry)

    @classmethod
    def for_runtime(cls, runtime: str | None) -> RuntimeAdapter:
        """The adapter serving ``runtime``; raises RuntimeNotSupportedError naming it."""
        adapter = RuntimeAdapter._registry.get(runtime or "")
        if adapter is None:
            raise RuntimeNotSupportedError(
                f"runtime {runtime!r} is not supported by the eda-sandbox process executor; "
                f"supported: {', '.join(cls.supported())}"
            )
        return adapter(runtime or "")

    def __init__(self, runtime: str) -> None:
        self.runtime = runtime
        self.version = self.RUNTIMES[runtime]

    def root(self, runtimes_dir: Path) -> Path:
        return runtimes_dir / self.runtime

    @abstractmethod
    def locate(self, runtimes_dir: Path) -> RuntimeEnv:
        """The built environment; raises RuntimeNotProvisionedError when it is not built."""

    @abstractmethod
    def build(self, runtimes_dir: Path, *, force: bool = False) -> RuntimeEnv:
        """Build (or reuse) the environment; idempotent. Raises RuntimeBuildError."""

    @abstractmethod
    def buildable(self) -> bool:
        """Whether this machine has what :meth:`build` needs (an interpreter, say)."""

    @abstractmethod
    def command(self, rt: RuntimeEnv, handler: str) -> list[str]:
        """The runtime process's command line; it speaks the Runtime API to the init."""

    @abstractmethod
    def environment(self, rt: RuntimeEnv, code_dir: str, opt: Opt) -> dict[str, str]:
        """The variables AWS's runtime sets for the function (module path, PATH, ...).

        ``opt`` is the environment's /opt: the function's layers merged in their order.
        """


def run_step(
    cmd: Sequence[str],
    runtime: str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run one build command; its output's tail goes into the RuntimeBuildError."""
    try:
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd,
            env=None if env is None else dict(env),
            timeout=900,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeBuildError(f"building runtime {runtime} failed: {cmd[0]}: {e}") from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-15:])
        raise RuntimeBuildError(
            f"building runtime {runtime} failed: {' '.join(cmd[:4])} ...\n{tail}"
        )


def adapter_for(runtime: str | None) -> RuntimeAdapter:
    """The adapter for ``runtime``; raises RuntimeNotSupportedError naming the supported ones."""
    return RuntimeAdapter.for_runtime(runtime)


def locate(runtimes_dir: Path, runtime: str | None) -> RuntimeEnv:
    """The built environment for ``runtime``; raises if unsupported or not built."""
    return adapter_for(runtime).locate(runtimes_dir)


def build(runtimes_dir: Path, runtime: str, *, force: bool = False) -> RuntimeEnv:
    """Build (or reuse) the environment for ``runtime``. Idempotent and cached."""
    return adapter_for(runtime).build(runtimes_dir, force=force)


def available_runtimes() -> list[str]:
    """The supported runtimes this machine can build."""
    return [rt for rt in RuntimeAdapter.supported() if adapter_for(rt).buildable()]
