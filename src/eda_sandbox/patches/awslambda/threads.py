"""No new thread per Lambda invocation inside LocalStack (applied as Lambda loads,
``patches/loading.py``).

Why: every invocation started two OS threads in LocalStack's one GIL-bound process:
- ``ExecutionEnvironment.release`` arms a ``threading.Timer`` for the keep-alive each
  time an environment goes back to the idle pool, and the next ``reserve`` cancels it;
- ``LambdaVersionManager.invoke`` starts a thread to record the CloudWatch metric, which
  returns at once unless CloudWatch is one of the sandbox's services.
``Thread.start`` waits for the new thread to run: 0.1-0.6 ms each on our 2-core hosts,
more under load (bench/RESULTS.md, issue 14), on the path of every warm invoke and every
batch an event source mapping delivers.

What changes: the keep-alive and start-up timers go to one scheduler thread
(``eda_sandbox.executor.timers``) with the same deadlines and callbacks; the metrics go,
in order, to one worker thread, or nowhere when CloudWatch is not served. What a timer
does when it fires, and when, is LocalStack's.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eda_sandbox.executor import timers
from eda_sandbox.patches import switch

# The names LocalStack gives its per-invocation metric threads (version_manager.invoke).
METRIC_THREAD_PREFIX = "record-cloudwatch-metric"


def route_metric_threads(
    start_thread: Any, pool: ThreadPoolExecutor, cloudwatch: Callable[[], bool]
) -> Any:
    """``start_thread`` that sends the metric threads' work to ``pool`` instead, and
    drops it when ``cloudwatch()`` says CloudWatch is not served (the work would return
    at once)."""

    def start(func: Any, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
        if name is not None and name.startswith(METRIC_THREAD_PREFIX):
            if cloudwatch():
                # FuncThread calls func(params); these lambdas take *args, **kwargs.
                pool.submit(func, None)
            return None  # both call sites drop the thread
        return start_thread(func, *args, name=name, **kwargs)

    start.__wrapped__ = start_thread  # type: ignore[attr-defined]
    return start


def share_lambda_timer_threads(*_args: Any) -> None:
    if not switch.enabled():
        return
    from localstack.services.lambda_.invocation import execution_environment, version_manager
    from localstack.utils.bootstrap import is_api_enabled

    execution_environment.Timer = timers.Timer  # type: ignore[attr-defined,assignment]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eda-lambda-metrics")
    original = version_manager.start_thread  # type: ignore[attr-defined]
    version_manager.start_thread = route_metric_threads(  # type: ignore[attr-defined]
        original, pool, lambda: is_api_enabled("cloudwatch")
    )
