"""Local stand-ins for AWS's managed Python runtimes.

A runtime environment is a pip-less virtual environment made from a real CPython of the
right minor version, whose site-packages holds only what AWS's managed runtime provides:
the runtime interface client (awslambdaric) and boto3/botocore. Functions run on it and
never see the harness's own virtual environment, so a function that forgets to package a
dependency fails here as it would on AWS.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

from eda_sandbox.errors import RuntimeNotProvisionedError
from eda_sandbox.executor.layers import Opt
from eda_sandbox.executor.runtimes.base import (
    MARKER,
    RuntimeAdapter,
    RuntimeBuildError,
    RuntimeEnv,
    run_step,
)

# What AWS's managed Python runtime puts on sys.path besides the standard library.
RUNTIME_PACKAGES = ("awslambdaric", "boto3")


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


class PythonRuntime(RuntimeAdapter):
    # runtime -> CPython minor version
    RUNTIMES: ClassVar[dict[str, str]] = {
        "python3.10": "3.10",
        "python3.11": "3.11",
        "python3.12": "3.12",
        "python3.13": "3.13",
    }
    PREFORKS = True

    def _site_packages(self, root: Path) -> Path:
        return root / "lib" / f"python{self.version}" / "site-packages"

    def _fingerprint(self, constraints: Path | None) -> str:
        digest = hashlib.sha256(self.version.encode())
        digest.update(",".join(RUNTIME_PACKAGES).encode())
        if constraints is not None:
            digest.update(constraints.read_bytes())
        return digest.hexdigest()[:16]

    def locate(self, runtimes_dir: Path) -> RuntimeEnv:
        root = self.root(runtimes_dir)
        python = root / "bin" / "python"
        if not (root / MARKER).is_file() or not python.exists():
            raise RuntimeNotProvisionedError(
                f"runtime {self.runtime} has no local environment in {root}; build it with "
                f"`eda-sandbox runtimes {self.runtime}` (needs a Python {self.version} interpreter)"
            )
        return RuntimeEnv(self.runtime, root, python, self._site_packages(root))

    def build(self, runtimes_dir: Path, *, force: bool = False) -> RuntimeEnv:
        constraints = repo_constraints()
        root = self.root(runtimes_dir)
        marker = root / MARKER
        fingerprint = self._fingerprint(constraints)
        if not force and marker.is_file() and marker.read_text().strip() == fingerprint:
            return self.locate(runtimes_dir)
        interpreter = find_interpreter(self.version)
        if interpreter is None:
            raise RuntimeBuildError(
                f"no Python {self.version} interpreter found for runtime {self.runtime} "
                "(looked on PATH and in pyenv's versions)"
            )
        if root.exists():
            shutil.rmtree(root)
        root.parent.mkdir(parents=True, exist_ok=True)
        run_step([str(interpreter), "-m", "venv", "--without-pip", str(root)], self.runtime)
        site = self._site_packages(root)
        # pip of *this* interpreter installs wheels for the target version: no pip needed in
        # the runtime, and binary wheels (awslambdaric's C client) match the target.
        cmd = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-warn-script-location", "--no-compile", "--only-binary=:all:",
            "--python-version", self.version, "--implementation", "cp",
            "--target", str(site), *RUNTIME_PACKAGES,
        ]  # fmt: skip
        if constraints is not None:
            cmd += ["-c", str(constraints)]
        run_step(cmd, self.runtime)
        # Byte-compile with the runtime's own interpreter: pip would compile for ours, and
        # without .pyc files every cold start recompiles boto3 (about 300 ms).
        run_step(
            [str(root / "bin" / "python"), "-m", "compileall", "-q", "-j0", str(site)],
            self.runtime,
        )
        marker.write_text(fingerprint + "\n")
        return self.locate(runtimes_dir)

    def buildable(self) -> bool:
        return find_interpreter(self.version) is not None

    def command(self, rt: RuntimeEnv, handler: str) -> list[str]:
        return [str(rt.executable), "-m", "awslambdaric", handler]

    def environment(self, rt: RuntimeEnv, code_dir: str, opt: Opt) -> dict[str, str]:
        return {
            "LAMBDA_RUNTIME_DIR": str(rt.library),
            # sys.path as on AWS: task root, then layers (/opt), then the runtime's
            # site-packages (boto3, awslambdaric) appended by site.
            "PYTHONPATH": os.pathsep.join([code_dir, *opt.python_paths(self.version)]),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": os.pathsep.join(
                [str(rt.executable.parent), "/usr/local/bin", "/usr/bin", "/bin", *opt.bin_paths()]
            ),
        }
