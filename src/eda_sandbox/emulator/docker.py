"""The sandbox in a container, for the pytest plugin's ``--sandbox=docker``.

Runs the image built from this repository's Dockerfile (``eda-sandbox:local``) through
testcontainers-python, publishes LocalStack's port on the host's loopback and waits until
every configured service is ready::

    with DockerSandbox(load_settings()) as endpoint_url:
        ...

The container listens on the same port inside as on the host, so resource URLs LocalStack
hands out (queue URLs, ``LOCALSTACK_HOST``) are valid from both sides. testcontainers is
imported lazily: the embedded path must not need it.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from eda_sandbox.config import Settings
from eda_sandbox.emulator import launcher
from eda_sandbox.errors import SandboxStartError

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

DEFAULT_IMAGE = "eda-sandbox:local"
IMAGE_VAR = "EDA_SANDBOX_IMAGE"
BIND_VAR = "EDA_SANDBOX_DOCKER_BIND"
CONTAINER_STATE_DIR = "/var/lib/eda-sandbox"
LOG_TAIL_LINES = 60


class DockerSandboxError(SandboxStartError):
    """The containerised sandbox could not be built, started or made ready."""


class DockerUnavailableError(DockerSandboxError):
    """testcontainers is not installed, or no Docker engine answers."""


def repo_root() -> Path | None:
    """The checkout holding the Dockerfile, if this module runs from one."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "Dockerfile").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    return None


def free_port(host: str) -> int:
    """A port free on ``host`` now; Docker may still lose a race for it (then start fails)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _docker_errors() -> Any:
    """docker-py's exception module (a testcontainers dependency; it ships no type hints)."""
    return importlib.import_module("docker.errors")


def _docker_client() -> Any:
    """A testcontainers DockerClient that has answered a ping."""
    try:
        from testcontainers.core.docker_client import DockerClient

        errors = _docker_errors()
    except ImportError as e:
        raise DockerUnavailableError(
            "--sandbox=docker needs testcontainers: install the 'docker' extra "
            "(pip install -c constraints.txt -e '.[docker]')"
        ) from e
    try:
        client = DockerClient()
        client.client.ping()
    except (errors.DockerException, OSError) as e:
        raise DockerUnavailableError(
            f"no Docker engine answers (DOCKER_HOST={os.environ.get('DOCKER_HOST', 'unset')}): "
            f"{e}; start Docker or use the embedded sandbox (--sandbox=auto)"
        ) from e
    return client


def _connect_host(bind: str) -> str:
    """Where the host reaches a port published on ``bind``."""
    if bind in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{bind}]" if ipaddress.ip_address(bind).version == 6 else bind


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


class DockerSandbox:
    """Start, wait for and remove one sandbox container.

    ``image``: default ``$EDA_SANDBOX_IMAGE`` or ``eda-sandbox:local``. ``build``: default
    True for ``eda-sandbox:local`` (rebuilt from this checkout, so tests never run stale
    code; Docker's layer cache makes an unchanged rebuild quick) and False for an image
    named in ``$EDA_SANDBOX_IMAGE``, which must then exist locally. ``port``: host and
    container port; default (None or 0) a free one, so it never collides with a sandbox
    already on ``settings.port`` (``make up`` or ``make up SANDBOX=docker``). ``bind``:
    host address to publish on, default ``$EDA_SANDBOX_DOCKER_BIND`` or 127.0.0.1.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        image: str | None = None,
        build: bool | None = None,
        port: int | None = None,
        bind: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.settings = settings
        named = image or os.environ.get(IMAGE_VAR)
        self.image = named or DEFAULT_IMAGE
        self.build = (named is None or named == DEFAULT_IMAGE) if build is None else build
        self.bind = bind or os.environ.get(BIND_VAR) or "127.0.0.1"
        try:
            ipaddress.ip_address(self.bind)
        except ValueError as e:
            raise DockerSandboxError(f"{BIND_VAR}={self.bind!r} is not an IP address") from e
        self.port = port or 0
        self.timeout = settings.ready_timeout if timeout is None else timeout
        self.container: DockerContainer | None = None
        self.endpoint_url: str | None = None

    # -- image ------------------------------------------------------------------------
    def ensure_image(self, client: Any) -> None:
        errors = _docker_errors()
        if self.build:
            root = repo_root()
            if root is None:
                raise DockerSandboxError(
                    f"cannot build {self.image}: no Dockerfile beside this installation; "
                    f"build it from a checkout or set {IMAGE_VAR} to an existing image"
                )
            try:
                client.build(path=str(root), tag=self.image, rm=True)
            except errors.BuildError as e:
                log = "".join(str(chunk.get("stream", "")) for chunk in e.build_log)
                raise DockerSandboxError(
                    f"building {self.image} from {root} failed: {e.msg}\n{_tail(log)}"
                ) from e
            except errors.APIError as e:
                raise DockerSandboxError(f"building {self.image} failed: {e}") from e
            return
        try:
            client.client.images.get(self.image)
        except errors.ImageNotFound as e:
            raise DockerSandboxError(
                f"image {self.image} ({IMAGE_VAR}) is not available locally; build or pull "
                "it first (nothing is pulled implicitly)"
            ) from e

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> str:
        """Start the container and wait until it is ready; returns the endpoint URL."""
        client = _docker_client()
        self.ensure_image(client)
        from testcontainers.core.container import DockerContainer

        errors = _docker_errors()

        port = self.port or free_port(self.bind)
        container = DockerContainer(self.image).with_envs(
            EDA_SANDBOX_PORT=str(port),
            EDA_SANDBOX_LOG_LEVEL=self.settings.log_level,
            EDA_SANDBOX_SERVICES=",".join(self.settings.services),
            EDA_SANDBOX_ESM_POLL_INTERVAL=str(self.settings.esm_poll_interval),
            AWS_DEFAULT_REGION=self.settings.region,
        )
        # testcontainers types host ports as int, but docker-py also takes (address,
        # port): without an address Docker would publish on every interface.
        ports: dict[str, Any] = container.ports
        ports[f"{port}/tcp"] = (self.bind, port)
        self.container = container
        try:
            container.start()
        except (errors.DockerException, OSError) as e:
            self._discard()
            raise DockerSandboxError(f"starting {self.image} on port {port} failed: {e}") from e
        self.endpoint_url = f"http://{_connect_host(self.bind)}:{port}"
        try:
            self._wait_ready(self.endpoint_url)
        except DockerSandboxError:
            self._discard()
            raise
        return self.endpoint_url

    def _wait_ready(self, endpoint_url: str) -> None:
        """Poll the health endpoint from the host, bounded by ``self.timeout``."""
        probe = replace(self.settings, endpoint_url=endpoint_url)
        deadline = time.monotonic() + self.timeout
        seen: dict[str, str] | None = None
        interval = 0.1
        while time.monotonic() < deadline:
            if self._exited():
                raise DockerSandboxError(
                    f"container {self.image} exited during start-up; last log lines:\n"
                    + self.logs()
                )
            seen = launcher.health(probe, timeout=1.0)
            if seen and all(seen.get(s) == "running" for s in probe.services):
                return
            time.sleep(interval)  # polling the health endpoint, bounded by the deadline
            interval = min(interval * 1.5, 1.0)
        wanted = {s: (seen or {}).get(s, "missing") for s in probe.services}
        raise DockerSandboxError(
            f"sandbox container not ready after {self.timeout:.0f}s "
            f"(EDA_SANDBOX_READY_TIMEOUT) at {probe.health_url}; last health seen: "
            f"{wanted if seen else 'no answer'}; last log lines:\n{self.logs()}"
        )

    def _exited(self) -> bool:
        if self.container is None:
            return True
        errors = _docker_errors()
        try:
            self.container.reload()
        except (errors.DockerException, OSError):
            return True
        return self.container.status in ("exited", "dead")

    def logs(self) -> str:
        """The container's last log lines (LocalStack runs in its foreground)."""
        if self.container is None:
            return "(no container)"
        errors = _docker_errors()
        try:
            out, err = self.container.get_logs()
        except (errors.DockerException, OSError) as e:
            return f"(logs unavailable: {e})"
        return _tail((out + err).decode("utf-8", "replace"))

    def stop(self) -> None:
        """Remove the container and its anonymous state volume. Safe to call twice."""
        container, self.container = self.container, None
        self.endpoint_url = None
        if container is None:
            return
        errors = _docker_errors()
        try:
            container.stop(force=True, delete_volume=True)
        except errors.NotFound:
            pass  # already gone
        except (errors.DockerException, OSError) as e:
            raise DockerSandboxError(f"removing the sandbox container failed: {e}") from e

    def _discard(self) -> None:
        """Clean up after a failed start without hiding why it failed."""
        with contextlib.suppress(DockerSandboxError):
            self.stop()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
