"""Local stand-ins for AWS's managed Python runtimes.

A runtime environment is a pip-less virtual environment made from a real CPython of the
right minor version, whose site-packages holds only what AWS's managed runtime provides:
the runtime interface client (awslambdaric) and boto3/botocore. Functions run on it and
never see the harness's own virtual environment, so a function that forgets to package a
dependency fails here as it would on AWS. Each is built once (``eda-sandbox runtimes``)
and cached under ``Settings.runtimes_dir``; building is an install step, never a run-time
download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from eda_sandbox.errors import (
    RuntimeNotProvisionedError,
    RuntimeNotSupportedError,
    SandboxError,
)

PYTHON_RUNTIMES: dict[str, str] = {
    "python3.10": "3.10",
    "python3.11": "3.11",
    "python3.12": "3.12",
    "python3.13": "3.13",
}
# What AWS's managed Python runtime puts on sys.path besides the standard library.
RUNTIME_PACKAGES = ("awslambdaric", "boto3")
_MARKER = "eda-sandbox-runtime.txt"


class RuntimeBuildError(SandboxError):
    """A runtime environment could not be built (no interpreter, or pip failed)."""


@dataclass(frozen=True)
class RuntimeEnv:
    runtime: str
    python: Path
    site_packages: Path


def repo_constraints() -> Path | None:
    """constraints.txt beside the project, if this is a checkout (it pins boto3 et al.)."""
    env = os.environ.get("EDA_SANDBOX_CONSTRAINTS")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "constraints.txt"
        if candidate.is_file():
            return candidate
    return None


def check_supported(runtime: str | None) -> str:
    if runtime in PYTHON_RUNTIMES:
        return PYTHON_RUNTIMES[runtime]
    raise RuntimeNotSupportedError(
        f"runtime {runtime!r} is not supported by the eda-sandbox process executor; "
        f"supported: {', '.join(PYTHON_RUNTIMES)}"
    )


def find_interpreter(version: str) -> Path | None:
    """A CPython ``version`` (e.g. "3.12"): on PATH, or installed by pyenv but not selected."""
    candidates: list[Path] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates.extend(
        sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), reverse=True)
    )
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidates.append(Path(sys.executable))
    for candidate in candidates:
        try:
            out = subprocess.run(
                [str(candidate), "-c", "import sys; print(sys.base_prefix)"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            continue  # a pyenv shim for an unselected version fails here
        base = Path(out.stdout.strip())
        real = base / "bin" / f"python{version}"
        return real if real.exists() else candidate
    return None


def runtime_dir(runtimes_dir: Path, runtime: str) -> Path:
    return runtimes_dir / runtime


def _fingerprint(version: str, constraints: Path | None) -> str:
    digest = hashlib.sha256(version.encode())
    digest.update(",".join(RUNTIME_PACKAGES).encode())
    if constraints is not None:
        digest.update(constraints.read_bytes())
    return digest.hexdigest()[:16]


def locate(runtimes_dir: Path, runtime: str | None) -> RuntimeEnv:
    """The built environment for ``runtime``; raises if unsupported or not built."""
    version = check_supported(runtime)
    assert runtime is not None
    root = runtime_dir(runtimes_dir, runtime)
    python = root / "bin" / "python"
    site = root / "lib" / f"python{version}" / "site-packages"
    if not (root / _MARKER).is_file() or not python.exists():
        raise RuntimeNotProvisionedError(
            f"runtime {runtime} has no local environment in {root}; build it with "
            f"`eda-sandbox runtimes {runtime}` (needs a Python {version} interpreter)"
        )
    return RuntimeEnv(runtime=runtime, python=python, site_packages=site)


def build(runtimes_dir: Path, runtime: str, *, force: bool = False) -> RuntimeEnv:
    """Build (or reuse) the environment for ``runtime``. Idempotent and cached."""
    version = check_supported(runtime)
    constraints = repo_constraints()
    root = runtime_dir(runtimes_dir, runtime)
    marker = root / _MARKER
    fingerprint = _fingerprint(version, constraints)
    if not force and marker.is_file() and marker.read_text().strip() == fingerprint:
        return locate(runtimes_dir, runtime)
    interpreter = find_interpreter(version)
    if interpreter is None:
        raise RuntimeBuildError(
            f"no Python {version} interpreter found for runtime {runtime} "
            "(looked on PATH and in pyenv's versions)"
        )
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    _run([str(interpreter), "-m", "venv", "--without-pip", str(root)], runtime)
    site = root / "lib" / f"python{version}" / "site-packages"
    # pip of *this* interpreter installs wheels for the target version: no pip needed in
    # the runtime, and binary wheels (awslambdaric's C client) match the target.
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-warn-script-location", "--no-compile", "--only-binary=:all:",
        "--python-version", version, "--implementation", "cp",
        "--target", str(site), *RUNTIME_PACKAGES,
    ]  # fmt: skip
    if constraints is not None:
        cmd += ["-c", str(constraints)]
    _run(cmd, runtime)
    # Byte-compile with the runtime's own interpreter: pip would compile for ours, and
    # without .pyc files every cold start recompiles boto3 (about 300 ms).
    _run([str(root / "bin" / "python"), "-m", "compileall", "-q", "-j0", str(site)], runtime)
    marker.write_text(fingerprint + "\n")
    return locate(runtimes_dir, runtime)


def _run(cmd: list[str], runtime: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-15:])
        raise RuntimeBuildError(
            f"building runtime {runtime} failed: {' '.join(cmd[:4])} ...\n{tail}"
        )


def available_runtimes() -> list[str]:
    return [rt for rt, version in PYTHON_RUNTIMES.items() if find_interpreter(version)]
