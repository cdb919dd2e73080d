"""Function packaging: deterministic zips, dependency installs cached by key, clear failures."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

from eda_sandbox.errors import PackagingError
from eda_sandbox.topology.packaging import ZIP_EPOCH, Packager, run_pip


def make_function(root: Path, name: str, requirements: str = "") -> Path:
    code = root / "handlers" / name
    (code / "pkg").mkdir(parents=True)
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")
    (code / "pkg" / "__init__.py").write_text("")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"\0bytecode")
    (code / "requirements.txt").write_text(requirements)
    return code


class FakePip:
    """Stands in for pip: records each install and drops a module into --target."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, function: str, command: list[str]) -> None:
        self.calls.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "dep").mkdir(parents=True)
        (target / "dep" / "__init__.py").write_text("VERSION = 1\n")
        (target / "dep" / "__pycache__").mkdir()
        (target / "dep" / "__pycache__" / "x.pyc").write_bytes(b"\0")


def test_zip_is_deterministic_across_builds_and_mtimes(tmp_path: Path) -> None:
    code = make_function(tmp_path, "fn")
    first = Packager(tmp_path / "build1").package("fn", code, "python3.13")
    for path in code.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = Packager(tmp_path / "build2").package("fn", code, "python3.13")
    assert first.code_sha256 == second.code_sha256
    assert first.read() == second.read()


def test_zip_has_sorted_entries_fixed_times_and_no_bytecode(tmp_path: Path) -> None:
    code = make_function(tmp_path, "fn", "dep==1\n")
    package = Packager(tmp_path / "build", pip=FakePip()).package("fn", code, "python3.13")
    with zipfile.ZipFile(package.zip_path) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert names == ["app.py", "dep/__init__.py", "pkg/__init__.py"]
        assert {info.date_time for info in zf.infolist()} == {ZIP_EPOCH}


def test_changed_code_changes_the_hash(tmp_path: Path) -> None:
    code = make_function(tmp_path, "fn")
    packager = Packager(tmp_path / "build")
    before = packager.package("fn", code, "python3.13")
    (code / "app.py").write_text("def handler(event, context):\n    return 2\n")
    after = packager.package("fn", code, "python3.13")
    assert before.code_sha256 != after.code_sha256


def test_unchanged_function_reuses_the_cached_zip(tmp_path: Path) -> None:
    code = make_function(tmp_path, "fn")
    packager = Packager(tmp_path / "build")
    first = packager.package("fn", code, "python3.13")
    mtime = first.zip_path.stat().st_mtime_ns
    second = Packager(tmp_path / "build").package("fn", code, "python3.13")
    assert second.zip_path == first.zip_path
    assert second.zip_path.stat().st_mtime_ns == mtime


def test_identical_requirement_sets_are_installed_once(tmp_path: Path) -> None:
    pip = FakePip()
    packager = Packager(tmp_path / "build", pip=pip)
    a = make_function(tmp_path, "a", "dep==1\n# comment\n")
    b = make_function(tmp_path, "b", "\ndep==1\n")
    c = make_function(tmp_path, "c", "dep==1\n")
    packager.package("a", a, "python3.13")
    packager.package("b", b, "python3.13")
    assert len(pip.calls) == 1
    packager.package("c", c, "python3.12")  # another runtime, another install
    assert len(pip.calls) == 2
    Packager(tmp_path / "build", pip=pip).package("a", a, "python3.13")  # cached on disk
    assert len(pip.calls) == 2


def test_pip_command_targets_the_runtime_and_lambda_platform(tmp_path: Path) -> None:
    pip = FakePip()
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("dep==1\n")
    code = make_function(tmp_path, "fn", "dep\n")
    Packager(tmp_path / "build", constraints, pip=pip).package("fn", code, "python3.12")
    command = pip.calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    for flag, value in [
        ("--python-version", "3.12"),
        ("--implementation", "cp"),
        ("--platform", "manylinux2014_x86_64"),
        ("-r", str(code / "requirements.txt")),
        ("-c", str(constraints)),
    ]:
        assert command[command.index(flag) + 1] == value
    assert "--only-binary=:all:" in command


def test_constraints_change_the_install_key(tmp_path: Path) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("dep==1\n")
    packager = Packager(tmp_path / "build", constraints)
    key = packager.deps_key("dep", "python3.13")
    constraints.write_text("dep==2\n")
    assert packager.deps_key("dep", "python3.13") != key


def test_pip_failure_names_the_function_and_shows_stderr(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; sys.stderr.write('no such package\\n'); sys.exit(3)",
    ]
    with pytest.raises(PackagingError) as caught:
        run_pip("order_consumer", command)
    assert str(caught.value) == "order_consumer: pip install failed (exit 3):\nno such package"


def test_failed_install_is_not_cached(tmp_path: Path) -> None:
    def failing(function: str, command: list[str]) -> None:
        raise PackagingError(f"{function}: pip install failed")

    code = make_function(tmp_path, "fn", "dep\n")
    with pytest.raises(PackagingError):
        Packager(tmp_path / "build", pip=failing).package("fn", code, "python3.13")
    pip = FakePip()
    Packager(tmp_path / "build", pip=pip).package("fn", code, "python3.13")
    assert len(pip.calls) == 1


# --- layers -------------------------------------------------------------------------


def make_layer(root: Path, requirements: str = "") -> Path:
    code = root / "layers" / "common"
    (code / "python" / "common").mkdir(parents=True)
    (code / "python" / "common" / "__init__.py").write_text("NAME = 'common'\n")
    (code / "python" / "common" / "__pycache__").mkdir()
    (code / "python" / "common" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (code / "bin").mkdir()
    (code / "bin" / "tool").write_text("#!/bin/sh\n")  # /opt/bin, on PATH
    (code / "requirements.txt").write_text(requirements)
    return code


def test_layer_zip_keeps_aws_layout_and_installs_requirements_per_python_version(
    tmp_path: Path,
) -> None:
    pip = FakePip()
    code = make_layer(tmp_path, "dep==1\n")
    package = Packager(tmp_path / "build", pip=pip).package_layer(
        "common", code, ["python3.13", "python3.12"]
    )
    with zipfile.ZipFile(package.zip_path) as zf:
        assert zf.namelist() == [
            "bin/tool",
            "python/common/__init__.py",
            "python/lib/python3.12/site-packages/dep/__init__.py",
            "python/lib/python3.13/site-packages/dep/__init__.py",
        ]
    versions = sorted(call[call.index("--python-version") + 1] for call in pip.calls)
    assert versions == ["3.12", "3.13"]


def test_layer_zip_is_deterministic_and_cached_and_changes_with_its_code(tmp_path: Path) -> None:
    code = make_layer(tmp_path)
    first = Packager(tmp_path / "build1").package_layer("common", code, ["python3.13"])
    for path in code.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    packager = Packager(tmp_path / "build2")
    second = packager.package_layer("common", code, ["python3.13"])
    assert (first.code_sha256, first.read()) == (second.code_sha256, second.read())
    assert packager.package_layer("common", code, ["python3.13"]).zip_path == second.zip_path
    (code / "python" / "common" / "__init__.py").write_text("NAME = 'changed'\n")
    assert packager.package_layer("common", code, ["python3.13"]).code_sha256 != first.code_sha256


def test_missing_layer_folder_names_the_layer(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"^layer common: code folder .* does not exist$"):
        Packager(tmp_path / "build").package_layer("common", tmp_path / "nope", ["python3.13"])


class FakeNpm:
    """Stands in for npm ci: records each install and writes node_modules from the lock."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], Path]] = []

    def __call__(self, function: str, command: list[str], cwd: Path) -> None:
        self.calls.append((command, cwd))
        assert (cwd / "package-lock.json").is_file()
        (cwd / "node_modules" / "dep").mkdir(parents=True)
        (cwd / "node_modules" / "dep" / "index.js").write_text("exports.v = 1;\n")
        (cwd / "node_modules" / "dep" / "bin").mkdir()
        (cwd / "node_modules" / "dep" / "bin" / "cli.js").write_text("// kept\n")
        (cwd / "node_modules" / ".bin").mkdir()
        (cwd / "node_modules" / ".bin" / "dep").write_text("// npm's link, left out\n")


def make_node_function(root: Path, lock: bool = True) -> Path:
    code = root / "handlers" / "node_fn"
    (code / "node_modules" / "stale").mkdir(parents=True)  # a developer's npm install
    (code / "node_modules" / "stale" / "index.js").write_text("")
    (code / "index.mjs").write_text("export const handler = async () => 1;\n")
    (code / "package.json").write_text('{"type": "module", "dependencies": {"dep": "1.0.0"}}')
    if lock:
        (code / "package-lock.json").write_text('{"lockfileVersion": 3}')
    return code


def test_node_function_gets_npm_ci_node_modules_cached_by_lock(tmp_path: Path) -> None:
    code = make_node_function(tmp_path)
    npm = FakeNpm()
    packager = Packager(tmp_path / "build", npm=npm, find_npm=lambda: ["npm"])
    first = packager.package("node_fn", code, "nodejs22.x")
    with zipfile.ZipFile(first.zip_path) as zf:
        assert zf.namelist() == [
            "index.mjs",
            "node_modules/dep/bin/cli.js",
            "node_modules/dep/index.js",
            "package-lock.json",
            "package.json",
        ]
    [(command, _cwd)] = npm.calls
    assert command[:2] == ["npm", "ci"] and "--ignore-scripts" in command
    assert packager.package("node_fn", code, "nodejs22.x").code_sha256 == first.code_sha256
    assert len(npm.calls) == 1  # the same lock installs once
    (code / "package-lock.json").write_text('{"lockfileVersion": 3, "changed": true}')
    packager.package("node_fn", code, "nodejs22.x")
    assert len(npm.calls) == 2


def test_node_function_without_a_lock_file_is_refused(tmp_path: Path) -> None:
    code = make_node_function(tmp_path, lock=False)
    packager = Packager(tmp_path / "build", npm=FakeNpm(), find_npm=lambda: ["npm"])
    with pytest.raises(PackagingError, match=r"node_fn: .*package-lock.json is missing"):
        packager.package("node_fn", code, "nodejs22.x")
