"""Speed-ups applied inside LocalStack's process (``localstack.hooks.on_infra_start``).

Each one is measured (bench/RESULTS.md) and keeps behaviour: the integration suites run
with them on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


def _fast_content_type(line: bytes) -> bytes:
    """Twisted parses every request's Content-Type through the email package's header
    registry, about 1 ms a request and 12 % of LocalStack's CPU under a Lambda invoke
    loop (py-spy). A media type is the part before ``;``, case-insensitive; the email
    package answers ``text/plain`` for one without a ``/``, and so do we."""
    media = line.split(b";", 1)[0].strip().lower()
    return media if b"/" in media else b"text/plain"


@hooks.on_infra_start()
def patch_twisted_content_type(*_args: Any) -> None:
    if os.environ.get("EDA_SANDBOX_SPEEDUPS", "1") == "0":  # for A/B measurements
        return
    try:
        from twisted.web import http
    except ImportError:  # the hypercorn gateway does not use twisted
        return
    if hasattr(http, "_parseContentType"):
        http._parseContentType = _fast_content_type
        LOG.debug("eda-sandbox: twisted Content-Type parsing replaced")
