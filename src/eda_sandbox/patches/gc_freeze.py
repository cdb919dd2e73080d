"""Short full garbage collections in LocalStack and the DynamoDB process.

Upstream behaviour changed, and why: CPython's full collections walk every live object,
and in a long-lived sandbox that stalls every request in flight for 60-265 ms (see
``keep_full_collections_short``). A speed-up, off with ``EDA_SANDBOX_SPEEDUPS=0``.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from localstack.runtime import hooks

from eda_sandbox.patches.switch import enabled

_SWEEP_SECONDS = 600.0
_FORCE_SWEEP_SECONDS = 3600.0
_QUIET_CPU_SHARE = 0.05
# Quiet moments after start-up activity (the services loading, then the topology's apply)
# in which what that activity left is collected and frozen.
_SETTLE_SWEEPS = 2


def keep_full_collections_short() -> None:
    """Freeze what survives each full garbage collection, so the next one is short.

    A full collection walks every tracked object, and in a long-lived sandbox most of
    them live as long as the process: modules, API specs, plugins, stored items and
    messages. Measured (``gc.callbacks``) during pipeline runs: the DynamoDB process ran
    a full collection every 5 s, taking 60-190 ms and growing with its tables, and
    LocalStack's took 140-265 ms; each stalls every request in flight (the DynamoDB
    process serves one operation at a time), which showed up as latency tails.

    Right after a full collection only live objects remain, and ``gc.freeze()`` moves
    them out of later collections (they are still freed when nothing refers to them).
    The first two quiet seconds that follow activity (start-up, the topology's apply) do
    the same once each for what start-up left after the first freeze. Cyclic garbage
    that was alive at that moment would be kept, so once every
    ``_SWEEP_SECONDS`` everything is unfrozen and collected in one full pass. That pass
    is as long as the old full collections, so it waits for a quiet second (under 5 %
    CPU) and only forces its way after ``_FORCE_SWEEP_SECONDS`` of constant load.
    """
    survived = threading.Event()

    def after_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            survived.set()  # freezing inside the collector's callback is avoided

    def freezer() -> None:
        swept = tick = time.monotonic()
        cpu = time.process_time()
        busy_before, settle_sweeps = False, _SETTLE_SWEEPS
        while True:
            if survived.wait(timeout=1.0):
                survived.clear()
                gc.freeze()
            now, used = time.monotonic(), time.process_time()
            quiet = used - cpu < _QUIET_CPU_SHARE * max(now - tick, 0.001)
            tick, cpu = now, used
            if quiet and busy_before and settle_sweeps:
                # What loading the services and applying a topology left (botocore's
                # models, the providers' stores) was made after the first freeze; its
                # first full collection walked all of it (0.5 s, measured, inside the
                # first benchmark burst). Collect and freeze it while nothing runs.
                settle_sweeps -= 1
                gc.collect()
                gc.freeze()
                survived.clear()
                tick, cpu = time.monotonic(), time.process_time()
            busy_before = not quiet
            if now - swept >= _SWEEP_SECONDS and (quiet or now - swept >= _FORCE_SWEEP_SECONDS):
                gc.unfreeze()
                gc.collect()
                gc.freeze()
                survived.clear()  # that pass's own callback
                swept, tick, cpu = time.monotonic(), time.monotonic(), time.process_time()

    gc.collect()
    gc.freeze()
    gc.callbacks.append(after_collection)
    threading.Thread(target=freezer, name="eda-gc-freezer", daemon=True).start()


@hooks.on_infra_start()
def short_full_collections(*_args: Any) -> None:
    if enabled():
        keep_full_collections_short()
