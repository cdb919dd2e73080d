"""How many Lambda execution environments start at once (applied as Lambda loads,
``patches/loading.py``).

Why: LocalStack starts a new environment for every invocation that finds none idle,
up to 16 starts at once (a fixed semaphore in its ``AssignmentService``). The first
EventBridge events on a fresh sandbox arrive on up to ``EDA_SANDBOX_ASYNC_INVOKERS``
threads at once, so 16 Python interpreters start together on 2 cores: none is ready
for seconds, and a steady 50 events/s run that started cold had a p95 of 5.4-5.9 s
(bench/RESULTS.md). Each start costs a core for about 0.15 s; started side by side,
all of them take as long as all of them together.

What changes: at most ``EDA_SANDBOX_LAMBDA_STARTS`` environments of one function version
(default: the number of cores, at least 2) start at once; other functions are not held
back by its starts. An invocation that finds no idle environment waits for
either a start slot or an environment that became idle meanwhile, whichever comes
first, and then goes through LocalStack's own assignment as before (which takes the idle
one if it is still idle, else starts one). AWS also scales a function's environments at
a bounded rate rather than all at once. Concurrency limits are unchanged: the Lambda
service leases concurrency before an invocation gets here.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from eda_sandbox.config import load_settings
from eda_sandbox.patches import switch

# How often a waiting invocation looks for an environment that became idle.
IDLE_CHECK_SECONDS = 0.01


def wait_for_environment_or_slot(
    slots: threading.Semaphore, idle: Any, poll: float = IDLE_CHECK_SECONDS
) -> bool:
    """Block until ``idle()`` is true (False: no slot taken) or a start slot is free
    (True: the caller holds it and must release it)."""
    while True:
        if idle():
            return False
        if slots.acquire(timeout=poll):
            return True


def cap_environment_starts(*_args: Any) -> None:
    if not switch.enabled():
        return
    from localstack.services.lambda_.invocation.assignment import AssignmentService
    from localstack.services.lambda_.invocation.execution_environment import RuntimeStatus
    from localstack.services.lambda_.invocation.lambda_models import InitializationType

    limit = load_settings().lambda_starts
    # Per function version: one function's slow initialization (a big model, a long
    # import) must not hold back another function's first invocations.
    slots: dict[str, threading.Semaphore] = {}
    slots_lock = threading.Lock()
    original = AssignmentService.get_environment

    def slots_of(version_manager_id: str) -> threading.Semaphore:
        with slots_lock:
            if version_manager_id not in slots:
                slots[version_manager_id] = threading.Semaphore(limit)
            return slots[version_manager_id]

    @contextlib.contextmanager
    def get_environment(
        self: Any, version_manager_id: str, function_version: Any, provisioning_type: Any
    ) -> Iterator[Any]:
        held = False
        starts = slots_of(version_manager_id)
        if provisioning_type == InitializationType.on_demand:

            def idle() -> bool:
                return any(
                    env.status == RuntimeStatus.READY
                    and env.initialization_type == provisioning_type
                    for env in list(self.environments[version_manager_id].values())
                )

            held = wait_for_environment_or_slot(starts, idle)
        manager = original(self, version_manager_id, function_version, provisioning_type)
        try:
            environment = manager.__enter__()
        finally:
            if held:
                starts.release()
        try:
            yield environment
        except BaseException:
            if not manager.__exit__(*sys.exc_info()):
                raise
        else:
            manager.__exit__(None, None, None)

    AssignmentService.get_environment = get_environment  # type: ignore[method-assign]
