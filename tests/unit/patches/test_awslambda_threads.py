"""LocalStack's per-invocation threads go to shared ones."""

from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from localstack.services.lambda_.invocation import execution_environment, version_manager

from eda_sandbox.patches.awslambda import threads


def test_localstack_still_names_its_metric_threads_as_the_patch_expects() -> None:
    # If LocalStack renames them, the patch would silently start threads again.
    source = inspect.getsource(version_manager.LambdaVersionManager.invoke)
    assert source.count(f'name=f"{threads.METRIC_THREAD_PREFIX}') == 2
    assert "Timer(" in inspect.getsource(execution_environment.ExecutionEnvironment.release)


def test_metric_threads_run_on_the_pool_and_others_start_as_before() -> None:
    started: list[str | None] = []

    def start_thread(func: Any, *args: Any, name: str | None = None, **kwargs: Any) -> str:
        started.append(name)
        return "thread"

    ran: list[str] = []
    served = [True]
    with ThreadPoolExecutor(max_workers=1) as pool:
        start = threads.route_metric_threads(start_thread, pool, lambda: served[0])
        metric = "record-cloudwatch-metric-fn:$LATEST"
        assert start(lambda *a, **k: ran.append("served"), name=metric) is None
        served[0] = False
        assert start(lambda *a, **k: ran.append("not served"), name=metric) is None
        assert start(lambda *a: None, name="provisioning") == "thread"
    assert ran == ["served"]
    assert started == ["provisioning"]
