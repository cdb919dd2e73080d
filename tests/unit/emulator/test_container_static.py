"""Static checks of the container path (Dockerfile, compose, CI workflow, entrypoint).

No Docker engine runs where these tests run, so the image is never built here; these
tests catch what can be caught without one: broken references, ports published beyond
loopback, make targets that do not exist, an entrypoint that would not start LocalStack.
"""

from __future__ import annotations

import importlib.util
import json
import py_compile
import re
import shlex
import socket
import sys
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from eda_sandbox.config import DEFAULT_SERVICES, load_settings

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "integration.yml"
ENTRYPOINT = ROOT / "docker" / "entrypoint.py"
HEALTHCHECK = ROOT / "docker" / "healthcheck.py"
STATE_VOLUME = "/var/lib/eda-sandbox"
# Host paths the Docker engine provides at run time; they exist only where it runs.
ENGINE_PATHS = {"/var/run/docker.sock"}
PIPE_TO_SHELL = re.compile(r"\b(curl|wget)\b[^\n|]*\|\s*(sudo\s+)?(ba|da|z)?sh\b")


# -- helpers ---------------------------------------------------------------------------
def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        instr, _, args = line.partition(" ")
        out.append((instr.upper(), args.strip()))
    return out


def copy_sources(args: str) -> list[str] | None:
    """Host sources of a COPY/ADD, or None when it copies from another stage or image."""
    parts = json.loads(args) if args.startswith("[") else shlex.split(args)
    if any(p.startswith("--from=") for p in parts):
        return None
    return [p for p in parts if not p.startswith("--")][:-1]


def dockerignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last pattern matching the path or a parent wins."""
    parts = rel.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").strip("/")
        if pat.startswith("**/"):
            hit = any(fnmatch(p.rsplit("/", 1)[-1], pat[3:]) for p in prefixes)
        else:
            hit = any(fnmatch(p, pat) for p in prefixes)
        if hit:
            ignored = not negate
    return ignored


def makefile_targets() -> set[str]:
    targets: set[str] = set()
    rule = re.compile(r"^([A-Za-z0-9][\w.-]*(?:[ \t]+[A-Za-z0-9][\w.-]*)*)[ \t]*::?(?!=)")
    for line in (ROOT / "Makefile").read_text().splitlines():
        if m := rule.match(line):
            targets.update(m.group(1).split())
    return targets


def make_targets_in(script: str) -> list[str]:
    """Targets named by `make ...` invocations in a shell script (variables and flags skipped)."""
    found: list[str] = []
    for line in script.splitlines():
        tokens = shlex.split(line, comments=True)
        for i, token in enumerate(tokens):
            if token != "make":
                continue
            for arg in tokens[i + 1 :]:
                if arg in ("&&", "||", ";", "|"):
                    break
                if not arg.startswith("-") and "=" not in arg:
                    found.append(arg)
    return found


def substitute_defaults(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set: the default."""
    return re.sub(r"\$\{[A-Za-z_]\w*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def load_script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return doc


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    # YAML 1.1 reads the bare key `on` as True.
    assert "on" in doc or True in doc, "workflow has no triggers"
    return doc


# -- docker-compose.yml -------------------------------------------------------------------
def test_compose_names_only_existing_paths(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            assert (ROOT / context).is_dir(), f"{name}: build context {context} missing"
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (ROOT / context / (dockerfile or "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith(("/", ".", "~")):
                if source in ENGINE_PATHS:
                    continue
                assert (ROOT / source).exists(), f"{name}: mounted host path {source} missing"
            else:
                assert source in declared_volumes, f"{name}: volume {source} not declared"


def test_compose_publishes_ports_on_loopback_only(compose: dict[str, Any]) -> None:
    published = 0
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                parts = substitute_defaults(str(port)).split(":")
                assert len(parts) == 3 and parts[0] == "127.0.0.1", f"{name}: {port}"
            published += 1
    assert published, "nothing published"


def test_compose_sandbox_service(compose: dict[str, Any]) -> None:
    sandbox = compose["services"]["sandbox"]
    assert sandbox["build"] == "."
    assert "127.0.0.1:4566:4566" in sandbox["ports"]
    assert sandbox["healthcheck"]["test"][0] == "CMD"
    assert any(str(v).endswith(f":{STATE_VOLUME}") for v in sandbox["volumes"])
    assert not any("docker.sock" in str(v) for v in sandbox["volumes"]), "no socket: processes"
    assert "profiles" not in sandbox


def test_compose_localstack_profile(compose: dict[str, Any]) -> None:
    ls = compose["services"]["localstack"]
    assert ls["profiles"] == ["localstack"]
    assert ls["image"] == "localstack/localstack:4.14.0"
    assert "/var/run/docker.sock:/var/run/docker.sock" in ls["volumes"]
    env = ls["environment"]
    assert env["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert set(env["SERVICES"].split(",")) == set(DEFAULT_SERVICES)
    sandbox_ports = {
        substitute_defaults(p).split(":")[1] for p in compose["services"]["sandbox"]["ports"]
    }
    ls_ports = {substitute_defaults(p).split(":")[1] for p in ls["ports"]}
    assert not sandbox_ports & ls_ports, "both services would claim the same host port"


# -- .github/workflows/integration.yml ----------------------------------------------------
def _run_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if "run" in s]


def _uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"actions/{action}@")]


def test_workflow_make_targets_exist(workflow: dict[str, Any]) -> None:
    targets = makefile_targets()
    assert {"up", "down", "test", "install"} <= targets, "Makefile parse went wrong"
    used: list[str] = []
    for job in workflow["jobs"].values():
        for step in _run_steps(job):
            used += make_targets_in(step["run"])
    assert used, "workflow runs no make target"
    missing = sorted(set(used) - targets)
    assert not missing, f"workflow runs make targets the Makefile lacks: {missing}"


@pytest.mark.parametrize("job_name", ["embedded", "docker"])
def test_workflow_job_shape(workflow: dict[str, Any], job_name: str) -> None:
    job = workflow["jobs"][job_name]
    assert job["runs-on"] == "ubuntu-latest"
    runs = [s["run"] for s in _run_steps(job)]
    docker = job_name == "docker"
    assert any(r.startswith("make up") and ("SANDBOX=docker" in r) == docker for r in runs)
    assert any(r.startswith("make test") and ("SANDBOX=docker" in r) == docker for r in runs)
    downs = [s for s in _run_steps(job) if s["run"].startswith("make down")]
    assert downs and all(s.get("if") == "always()" for s in downs), "make down must always run"
    setup = next(
        s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")
    )
    assert {"3.12", "3.13"} <= set(str(setup["with"]["python-version"]).split())
    uploads = [
        s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")
    ]
    assert uploads and all(s.get("if") == "failure()" for s in uploads)
    paths = uploads[0]["with"]["path"].split()
    assert {"junit.xml", ".sandbox/localstack.log", ".sandbox/envs/**"} <= set(paths)
    (cache,) = _uses(job, "cache")
    assert {".venv", ".sandbox/build", ".sandbox/runtimes"} <= set(cache["with"]["path"].split())
    for hashed in ("constraints.txt", "pyproject.toml", "handlers/**", "layers/**"):
        assert hashed in cache["with"]["key"]


# -- Dockerfile ---------------------------------------------------------------------------
def test_dockerfile_base_and_pinned_install(dockerfile: list[tuple[str, str]]) -> None:
    froms = [args for instr, args in dockerfile if instr == "FROM"]
    assert re.fullmatch(r"python:3\.13-slim(-\$\{DEBIAN_SUITE\})?", froms[-1]), froms[-1]
    runs = [args for instr, args in dockerfile if instr == "RUN"]
    assert any("pip install -c constraints.txt '.[emulator]'" in r for r in runs)
    assert all("-c constraints.txt" in r or "--no-deps" in r for r in runs if "pip install" in r)
    assert any(re.search(r"eda-sandbox runtimes .*python3\.13", r) for r in runs)


def test_dockerfile_health_user_volume(dockerfile: list[tuple[str, str]]) -> None:
    by = {instr: [a for i, a in dockerfile if i == instr] for instr, _ in dockerfile}
    assert "HEALTHCHECK" in by and "CMD" in by["HEALTHCHECK"][-1]
    assert "docker/healthcheck.py" in by["HEALTHCHECK"][-1]
    user = by["USER"][-1].split(":")[0]
    assert user not in ("root", "0"), "must not run as root"
    assert any(STATE_VOLUME in v for v in by["VOLUME"])
    env = " ".join(by["ENV"])
    assert "EDA_SANDBOX_HOST=0.0.0.0" in env
    assert f"EDA_SANDBOX_STATE_DIR={STATE_VOLUME}" in env
    assert "entrypoint.py" in by["ENTRYPOINT"][-1]


def test_dockerfile_never_pipes_downloads_into_a_shell() -> None:
    for path in (DOCKERFILE, ENTRYPOINT, HEALTHCHECK):
        assert not PIPE_TO_SHELL.search(path.read_text()), path
    assert PIPE_TO_SHELL.search("RUN curl -fsSL https://x.invalid/i.sh | sh")  # the check bites


def test_dockerfile_copy_sources_exist_in_build_context(dockerfile: list[tuple[str, str]]) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = 0
    for instr, args in dockerfile:
        if instr not in ("COPY", "ADD"):
            continue
        for source in copy_sources(args) or []:
            assert (ROOT / source).exists(), f"COPY source {source} missing"
            assert not dockerignored(source, patterns), f"{source} is excluded by .dockerignore"
            copied += 1
    assert copied
    for private in (".venv", ".sandbox", ".git", "tests"):
        assert dockerignored(private, patterns), f"{private} would be sent to the builder"


def test_dockerfile_python312_from_official_layout(dockerfile: list[tuple[str, str]]) -> None:
    froms = [args for instr, args in dockerfile if instr == "FROM"]
    assert "python:3.12-slim-${DEBIAN_SUITE} AS python312" in froms
    stage_copies = [a for i, a in dockerfile if i == "COPY" and "--from=python312" in a]
    sources = {shlex.split(a)[1] for a in stage_copies}
    assert sources == {
        "/usr/local/bin/python3.12",
        "/usr/local/lib/python3.12",
        "/usr/local/lib/libpython3.12.so.1.0",
    }


# -- docker/entrypoint.py, docker/healthcheck.py ------------------------------------------
@pytest.mark.parametrize("script", [ENTRYPOINT, HEALTHCHECK], ids=lambda p: p.name)
def test_scripts_byte_compile(script: Path, tmp_path: Path) -> None:
    py_compile.compile(str(script), cfile=str(tmp_path / "out.pyc"), doraise=True)


class _Exec(Exception):
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env


@pytest.fixture
def container_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("EDA_SANDBOX_PORT", "EDA_SANDBOX_SERVICES", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EDA_SANDBOX_HOST", "0.0.0.0")
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)  # the entrypoint chdirs; monkeypatch restores it
    return tmp_path


def test_entrypoint_execs_localstack_on_all_interfaces(
    container_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_runtimes = container_env / "image-runtimes"
    image_runtimes.mkdir()
    monkeypatch.setenv("EDA_SANDBOX_IMAGE_RUNTIMES", str(image_runtimes))
    stale = container_env / "state" / "envs" / "old.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"pgids": [1]}')

    def fake_exec(file: str, argv: list[str], env: dict[str, str]) -> None:
        raise _Exec(argv, env)

    entrypoint = load_script(ENTRYPOINT, "eda_entrypoint_under_test")
    monkeypatch.setattr(entrypoint.os, "execvpe", fake_exec)
    with pytest.raises(_Exec) as caught:
        entrypoint.main()
    argv, env = caught.value.argv, caught.value.env
    assert argv == [sys.executable, "-m", "localstack.runtime.main"]
    assert env["GATEWAY_LISTEN"] == "0.0.0.0:4566"
    assert env["OVERRIDE_IN_DOCKER"] == "0"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "process"
    state = container_env / "state"
    assert env["EDA_SANDBOX_STATE_DIR"] == str(state)
    assert (state / "runtimes").resolve() == image_runtimes.resolve()
    assert all((state / d).is_dir() for d in ("tmp", "volume", "filesystem", "envs"))
    assert not stale.exists(), "records from an earlier container must not survive"
    assert Path.cwd() == state


def test_entrypoint_rejects_bad_settings_without_exec(
    container_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDA_SANDBOX_PORT", "not-a-port")
    entrypoint = load_script(ENTRYPOINT, "eda_entrypoint_bad_settings")
    calls: list[object] = []
    monkeypatch.setattr(entrypoint.os, "execvpe", lambda *a: calls.append(a))
    with pytest.raises(SystemExit) as caught:
        entrypoint.main()
    assert caught.value.code == 2 and not calls


def test_healthcheck_needs_every_service_running(
    container_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    health_server: tuple[int, dict[str, str]],
) -> None:
    healthcheck = load_script(HEALTHCHECK, "eda_healthcheck_under_test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    monkeypatch.setenv("EDA_SANDBOX_PORT", str(dead_port))
    assert healthcheck.main() == 1, "nothing answers"
    port, services = health_server
    monkeypatch.setenv("EDA_SANDBOX_PORT", str(port))
    assert load_settings().health_url == f"http://127.0.0.1:{port}/_localstack/health"
    services.update(dict.fromkeys(DEFAULT_SERVICES, "running"))
    services["lambda"] = "starting"
    assert healthcheck.main() == 1
    services["lambda"] = "running"
    assert healthcheck.main() == 0
