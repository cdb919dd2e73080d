"""At most N Lambda environments start at once; waiting invocations take idle ones."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from localstack.services.lambda_.invocation.assignment import AssignmentService
from localstack.services.lambda_.invocation.execution_environment import (
    InvalidStatusException,
    RuntimeStatus,
)
from localstack.services.lambda_.invocation.lambda_models import InitializationType

from eda_sandbox.patches.awslambda import starts as lambda_starts
from eda_sandbox.testing import wait_until


def test_an_idle_environment_ends_the_wait_without_a_slot() -> None:
    slots = threading.Semaphore(0)  # no start slot will ever come
    found = threading.Event()
    threading.Timer(0.05, found.set).start()
    assert lambda_starts.wait_for_environment_or_slot(slots, found.is_set) is False


def test_a_free_slot_ends_the_wait_and_is_held() -> None:
    slots = threading.Semaphore(1)
    assert lambda_starts.wait_for_environment_or_slot(slots, lambda: False) is True
    assert not slots.acquire(blocking=False)  # the caller holds it now


class _Env:
    count = 0

    def __init__(self) -> None:
        _Env.count += 1
        self.id = f"env-{_Env.count}"
        self.status = RuntimeStatus.READY
        self.initialization_type = InitializationType.on_demand
        self.lock = threading.Lock()

    def reserve(self) -> None:
        with self.lock:
            if self.status != RuntimeStatus.READY:
                raise InvalidStatusException("busy")
            self.status = RuntimeStatus.INVOKING

    def release(self) -> None:
        with self.lock:
            self.status = RuntimeStatus.READY


def test_a_burst_starts_few_environments_and_reuses_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDA_SANDBOX_LAMBDA_STARTS", "2")
    monkeypatch.setattr(AssignmentService, "get_environment", AssignmentService.get_environment)
    starting, most = [0], [0]
    guard = threading.Lock()

    def start_environment(self: Any, *_args: Any) -> _Env:
        with guard:
            starting[0] += 1
            most[0] = max(most[0], starting[0])
        time.sleep(0.2)  # a cold start
        with guard:
            starting[0] -= 1
        return _Env()

    monkeypatch.setattr(AssignmentService, "start_environment", start_environment)
    lambda_starts.cap_environment_starts()
    service = AssignmentService()
    used: list[str] = []

    def invoke() -> None:
        with service.get_environment("vm", None, InitializationType.on_demand) as env:
            used.append(env.id)
            time.sleep(0.02)

    threads = [threading.Thread(target=invoke) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    assert len(used) == 12  # every invocation got an environment
    assert most[0] <= 2
    # Without the cap LocalStack starts one environment per waiting invocation (12).
    assert len(set(used)) <= 4


def test_errors_inside_the_invocation_reach_localstack_s_handling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AssignmentService, "get_environment", AssignmentService.get_environment)
    stopped: list[str] = []
    monkeypatch.setattr(AssignmentService, "start_environment", lambda self, *a: _Env())
    monkeypatch.setattr(
        AssignmentService, "stop_environment", lambda self, env: stopped.append(env.id)
    )
    lambda_starts.cap_environment_starts()
    service = AssignmentService()
    on_demand = InitializationType.on_demand
    with (
        pytest.raises(RuntimeError, match="boom"),
        service.get_environment("vm", None, on_demand) as env,
    ):
        raise RuntimeError("boom")
    assert stopped == [env.id]  # LocalStack stops an on-demand environment that failed


def test_one_function_s_starts_do_not_hold_back_another_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDA_SANDBOX_LAMBDA_STARTS", "2")
    monkeypatch.setattr(AssignmentService, "get_environment", AssignmentService.get_environment)
    release = threading.Event()
    slow_starts: list[str] = []

    def start_environment(self: Any, version_manager_id: str, *_args: Any) -> _Env:
        if version_manager_id == "slow":
            slow_starts.append(version_manager_id)
            release.wait(timeout=10)  # a long initialization
        return _Env()

    monkeypatch.setattr(AssignmentService, "start_environment", start_environment)
    lambda_starts.cap_environment_starts()
    service = AssignmentService()
    on_demand = InitializationType.on_demand

    def invoke(vm: str) -> None:
        with service.get_environment(vm, None, on_demand):
            pass

    slow = [threading.Thread(target=invoke, args=("slow",)) for _ in range(2)]
    for t in slow:
        t.start()
    wait_until(lambda: len(slow_starts) == 2, timeout=5, description="both slow starts")
    fast = threading.Thread(target=invoke, args=("fast",))
    fast.start()
    fast.join(timeout=2)
    done = not fast.is_alive()
    release.set()
    for t in [*slow, fast]:
        t.join(timeout=10)
    assert done, "a start of another function waited for the slow one's"
