"""Thin wrapper: ``python infra/bootstrap.py apply`` == ``python -m eda_sandbox.topology apply``."""

from __future__ import annotations

import sys

from eda_sandbox.topology.__main__ import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
