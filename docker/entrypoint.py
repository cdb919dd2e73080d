"""Container entrypoint: LocalStack in the foreground, configured exactly as ``eda-sandbox up``.

``eda-sandbox up`` starts LocalStack in the background and returns, which a container's main
process must not do; this script prepares the state directory the same way and then
replaces itself with LocalStack (``os.execvpe``), so signals from ``docker stop`` reach
LocalStack directly (through tini) and its output is the container's log.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

from eda_sandbox.config import Settings, load_settings
from eda_sandbox.emulator import launcher
from eda_sandbox.errors import SandboxError

# Where the Dockerfile built the Lambda runtime environments. They live in the image, not in
# the state volume, so a volume kept across image rebuilds never serves stale runtimes.
IMAGE_RUNTIMES_VAR = "EDA_SANDBOX_IMAGE_RUNTIMES"
STATE_SUBDIRS = ("tmp", "volume", "filesystem", "envs")


def build_command(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """LocalStack's argv and environment: the launcher's, plus host mode inside a container."""
    env = launcher.localstack_env(settings)
    # LocalStack notices /.dockerenv and would switch to its container layout
    # (/var/lib/localstack, not writable by our non-root user) and probe the Docker
    # bridge; we want the same host-mode layout under the state dir as the embedded path.
    env["OVERRIDE_IN_DOCKER"] = "0"
    return [sys.executable, "-m", "localstack.runtime.main"], env


def link_runtimes(settings: Settings, image_runtimes: Path) -> None:
    """Point ``state_dir/runtimes`` (where the executor looks) at the image's runtimes."""
    link = settings.runtimes_dir
    if link.is_symlink() and link.readlink() == image_runtimes:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)  # left in the volume by an older image; the image's copy wins
    link.symlink_to(image_runtimes, target_is_directory=True)


def prepare_state(settings: Settings, image_runtimes: Path | None) -> None:
    for sub in STATE_SUBDIRS:
        (settings.state_dir / sub).mkdir(parents=True, exist_ok=True)
    # Records of environments from a previous container: none of those processes can have
    # survived it, and their pgids could name unrelated processes in this one.
    for record in settings.envs_dir.glob("*.json"):
        record.unlink(missing_ok=True)
    if image_runtimes is not None:
        link_runtimes(settings, image_runtimes)


def main() -> NoReturn:
    try:
        settings = load_settings()
        raw = os.environ.get(IMAGE_RUNTIMES_VAR)
        prepare_state(settings, Path(raw) if raw else None)
    except (SandboxError, OSError) as e:
        print(f"eda-sandbox entrypoint: error: {e}", file=sys.stderr)
        sys.exit(2)
    argv, env = build_command(settings)
    # The launcher runs LocalStack with the state dir as its working directory; so do we.
    os.chdir(settings.state_dir)
    # exec keeps this pid, so `eda-sandbox status` inside the container finds LocalStack.
    launcher.write_pid_record(settings, os.getpid())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)  # noqa: S606 - argv is fixed, no shell involved


if __name__ == "__main__":
    main()
