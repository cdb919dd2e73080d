"""Container health: healthy once every configured service is ready, as ``eda-sandbox up``
waits for. Standard library plus eda_sandbox only: the slim image has no curl.

Exit 0 when healthy, 1 otherwise (Docker's HEALTHCHECK contract).
"""

from __future__ import annotations

import sys

from eda_sandbox.config import load_settings
from eda_sandbox.emulator import launcher
from eda_sandbox.errors import SandboxError


def main() -> int:
    try:
        settings = load_settings()
    except SandboxError as e:
        print(f"unhealthy: {e}")
        return 1
    # With EDA_SANDBOX_HOST=0.0.0.0 the settings connect to 127.0.0.1:<port>.
    state = launcher.status(settings)
    print(f"{settings.health_url}: {state.services or 'no answer'}")
    return 0 if state.running else 1


if __name__ == "__main__":
    sys.exit(main())
