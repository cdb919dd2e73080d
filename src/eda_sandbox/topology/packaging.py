"""Build each function's deployment zip (its code folder plus its own requirements) and
each layer's zip (see :meth:`Packager.package_layer`).

Dependencies are installed with pip for the function's runtime and Lambda's platform
(manylinux2014_x86_64, binary wheels only), into a cache keyed by (requirements,
runtime, constraints), so identical requirement sets are installed once. A Node.js
function's dependencies come from its committed package-lock.json with ``npm ci``
(production only, no install scripts) into a cache keyed by the lock file, and go into
the zip as ``node_modules/``; a ``node_modules`` folder in the code folder is ignored. Zips are
deterministic (sorted entries, fixed timestamps and modes, no bytecode) and cached by
content, so an unchanged function has the same CodeSha256 as the deployed one and is
neither rebuilt nor re-uploaded. A function gets only what it packages; boto3 comes
from the runtime.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eda_sandbox.config import load_settings
from eda_sandbox.errors import PackagingError
from eda_sandbox.executor.runtimes import NPM_CI, NodeRuntime

PLATFORM = "manylinux2014_x86_64"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", "bin"})
# A layer's bin/ is /opt/bin, on PATH: kept.
_LAYER_SKIP_DIRS = _SKIP_DIRS - {"bin"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_CODE_EXCLUDES = {"requirements.txt"}
# Inside node_modules only npm's own links folder is left out.
_NODE_SKIP_DIRS = frozenset({".bin"})
NODE_MODULES = "node_modules"

# (function, command) -> None; raises PackagingError. Tests replace it to count installs.
PipRunner = Callable[[str, list[str]], None]
# (function, command, folder to run in) -> None; raises PackagingError.
NpmRunner = Callable[[str, list[str], Path], None]


@dataclass(frozen=True)
class Package:
    function: str
    zip_path: Path
    code_sha256: str  # base64(sha256(zip)), the form Lambda reports

    def read(self) -> bytes:
        return self.zip_path.read_bytes()


def run_pip(function: str, command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PackagingError(f"{function}: could not run pip: {e}") from e
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise PackagingError(f"{function}: pip install failed (exit {done.returncode}):\n{tail}")


def run_npm(function: str, command: list[str], cwd: Path) -> None:
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PackagingError(f"{function}: could not run npm: {e}") from e
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise PackagingError(f"{function}: npm ci failed (exit {done.returncode}):\n{tail}")


def npm_command() -> list[str]:
    """npm as the Node.js runtimes installed it (``eda-sandbox runtimes``), else npm on PATH."""
    runtimes_dir = load_settings().runtimes_dir
    for runtime in reversed(list(NodeRuntime.RUNTIMES)):
        npm = NodeRuntime(runtime).npm(runtimes_dir)
        if npm is not None:
            return npm
    on_path = shutil.which("npm")
    if on_path is None:
        raise PackagingError(
            "npm not found: build a Node.js runtime first (`eda-sandbox runtimes nodejs22.x`)"
        )
    return [on_path]


def _files(root: Path, skip_dirs: frozenset[str] = _SKIP_DIRS) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every packable file under ``root``, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        for filename in sorted(filenames):
            if filename.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / filename
            yield path.relative_to(root).as_posix(), path


def _dependency_files(deps: Path, runtime: str) -> Iterator[tuple[str, Path]]:
    if runtime.startswith("nodejs"):
        for arcname, path in _files(deps / NODE_MODULES, _NODE_SKIP_DIRS):
            yield f"{NODE_MODULES}/{arcname}", path
    else:
        yield from _files(deps)


def _requirements(code_dir: Path) -> str:
    """requirements.txt without comments or blank lines, sorted: the same set, the same key."""
    path = code_dir / "requirements.txt"
    if not path.is_file():
        return ""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return "\n".join(sorted(line for line in lines if line))


def _add_code(
    code_dir: Path, entries: dict[str, Path], digest: Any, skip: frozenset[str] = _SKIP_DIRS
) -> None:
    """Add the code folder's files to ``entries`` and to the content ``digest``; a
    ``node_modules`` folder there is ignored (dependencies come from the lock file)."""
    for arcname, path in _files(code_dir, skip):
        if arcname in _CODE_EXCLUDES or arcname.startswith(f"{NODE_MODULES}/"):
            continue
        entries[arcname] = path  # the code's own files win over a dependency's
        digest.update(f"{arcname}\0{os.access(path, os.X_OK)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def write_zip(entries: dict[str, Path], target: Path) -> None:
    """A zip whose bytes depend only on the entries' names, contents and exec bits."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for arcname in sorted(entries):
                path = entries[arcname]
                info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
                info.create_system = 3
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes(), compresslevel=6)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Packager:
    """Packages functions into ``build_dir``; safe to call from several threads."""

    def __init__(
        self,
        build_dir: Path,
        constraints: Path | None = None,
        pip: PipRunner = run_pip,
        npm: NpmRunner = run_npm,
        find_npm: Callable[[], list[str]] = npm_command,
    ) -> None:
        self.build_dir = build_dir
        self.constraints = constraints
        self.pip = pip
        self.npm = npm
        self.find_npm = find_npm
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def deps_key(self, requirements: str, runtime: str) -> str:
        constraints = self.constraints.read_text() if self.constraints else ""
        blob = "\0".join(("deps-v1", runtime, requirements, constraints))
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def install_node(self, function: str, code_dir: Path, runtime: str) -> Path | None:
        """The folder where npm ci put node_modules from the function's lock file (once per key)."""
        manifest, lock = code_dir / "package.json", code_dir / "package-lock.json"
        if not manifest.is_file():
            return None
        if not lock.is_file():
            raise PackagingError(
                f"{function}: {lock} is missing; commit it (npm install --package-lock-only) "
                "so the dependencies install offline with npm ci"
            )
        blob = b"\0".join((b"npm-v1", runtime.encode(), manifest.read_bytes(), lock.read_bytes()))
        key = hashlib.sha256(blob).hexdigest()[:24]

        def fill(staging: Path) -> None:
            shutil.copy2(manifest, staging / manifest.name)
            shutil.copy2(lock, staging / lock.name)
            self.npm(function, [*self.find_npm(), *NPM_CI], staging)
            (staging / NODE_MODULES).mkdir(exist_ok=True)  # a lock without dependencies

        return self._install_once(key, fill)

    def _install_once(self, key: str, fill: Callable[[Path], None]) -> Path:
        """``build_dir/deps/<key>``, filled by ``fill(staging)`` unless it exists already."""
        target = self.build_dir / "deps" / key
        with self._lock(key):
            if target.is_dir():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{key}-"))
            try:
                fill(staging)
                # Publish atomically: a half-installed folder is never seen as cached.
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def install(self, function: str, code_dir: Path, runtime: str) -> Path | None:
        """The folder holding the function's dependencies (installed once per key)."""
        if runtime.startswith("nodejs"):
            return self.install_node(function, code_dir, runtime)
        requirements = _requirements(code_dir)
        if not requirements:
            return None
        key = self.deps_key(requirements, runtime)

        def fill(staging: Path) -> None:
            command = [
                sys.executable, "-m", "pip", "install", "--target", str(staging),
                "--only-binary=:all:", "--python-version", runtime.removeprefix("python"),
                "--implementation", "cp", "--platform", PLATFORM,
                "--no-compile", "--disable-pip-version-check", "--quiet",
                "-r", str(code_dir / "requirements.txt"),
            ]  # fmt: skip
            if self.constraints is not None:
                command += ["-c", str(self.constraints)]
            self.pip(function, command)

        return self._install_once(key, fill)

    def package(self, function: str, code_dir: Path, runtime: str) -> Package:
        if not code_dir.is_dir():
            raise PackagingError(f"{function}: code folder {code_dir} does not exist")
        deps = self.install(function, code_dir, runtime)
        entries = dict(_dependency_files(deps, runtime)) if deps else {}
        digest = hashlib.sha256(f"zip-v1\0{deps.name if deps else ''}\0".encode())
        _add_code(code_dir, entries, digest)
        return self._zip("zips", function, entries, digest.hexdigest()[:32])

    def package_layer(self, layer: str, code_dir: Path, runtimes: Sequence[str]) -> Package:
        """A layer's zip: its folder as it is (``python/``, ``nodejs/node_modules/``, ...)
        plus its requirements.txt installed for each Python runtime into
        ``python/lib/pythonX.Y/site-packages``, the version's own folder that AWS puts on
        sys.path, so one layer serves several Python versions with the right builds."""
        what = f"layer {layer}"
        if not code_dir.is_dir():
            raise PackagingError(f"{what}: code folder {code_dir} does not exist")
        entries: dict[str, Path] = {}
        digest = hashlib.sha256(b"layer-v1\0")
        for runtime in sorted(r for r in runtimes if r.startswith("python")):
            deps = self.install(what, code_dir, runtime)
            if deps is None:
                continue
            prefix = f"python/lib/{runtime}/site-packages/"
            entries.update({prefix + arcname: path for arcname, path in _files(deps)})
            digest.update(f"{runtime}\0{deps.name}\0".encode())
        _add_code(code_dir, entries, digest, _LAYER_SKIP_DIRS)
        return self._zip("layers", layer, entries, digest.hexdigest()[:32])

    def _zip(self, folder: str, name: str, entries: dict[str, Path], key: str) -> Package:
        """The zip of ``entries``, written once per content ``key`` and kept."""
        zip_path = self.build_dir / folder / name / f"{key}.zip"
        sha_path = zip_path.with_suffix(".sha256")
        if not sha_path.is_file():
            write_zip(entries, zip_path)
            sha = base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
            sha_path.write_text(sha)
        return Package(name, zip_path, sha_path.read_text().strip())
