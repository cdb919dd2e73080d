"""The one switch for every speed-up patch: ``EDA_SANDBOX_SPEEDUPS=0`` turns them off.

Fixes (such as binding the gateway to its host) ignore it; speed-ups check it when they
are applied, so an A/B measurement needs nothing but a restart with the variable set.
"""

from __future__ import annotations

import os


def enabled() -> bool:
    """``EDA_SANDBOX_SPEEDUPS=0`` turns every speed-up off, for A/B measurements."""
    return os.environ.get("EDA_SANDBOX_SPEEDUPS", "1") != "0"
