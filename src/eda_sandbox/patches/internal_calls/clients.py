"""Patch to LocalStack's internal client factory (an ``on_infra_start`` hook).

Upstream behaviour changed: the boto clients LocalStack's services use to call each other
are post-processed, so that event-path services sign with header-only SigV4
(``signing.py``) and the per-event operations go straight to their provider
(``direct.py``). Why: those calls are most of LocalStack's CPU per event (py-spy,
bench/RESULTS.md), and neither the signature nor the wire format is ever read. A speed-up,
off with ``EDA_SANDBOX_SPEEDUPS=0``.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from eda_sandbox.patches.internal_calls import direct
from eda_sandbox.patches.internal_calls.signing import skip_signatures
from eda_sandbox.patches.switch import enabled


@hooks.on_infra_start()
def cheaper_internal_clients(*_args: Any) -> None:
    if not enabled():
        return
    from localstack.aws.connect import InternalClientFactory

    original = InternalClientFactory._get_client_post_hook

    def post_hook(self: Any, client: Any) -> Any:
        return direct.install(skip_signatures(original(self, client)))

    InternalClientFactory._get_client_post_hook = post_hook  # type: ignore[method-assign]
