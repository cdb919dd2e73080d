"""Event source mapping pollers that behave more like AWS's (applied as Lambda loads,
``patches/loading.py``).

LocalStack runs one poller thread per SQS event source mapping, and it sleeps between
polls. AWS long-polls continuously and, for a standard queue, runs several pollers that
scale with the backlog. Two measured changes close the gap (bench/RESULTS.md):

* **Idle pick-up.** LocalStack backs off on an empty queue starting at 1 s (plus 50 %
  jitter) even when the configured maximum is lower, so an event sent to an idle queue
  waited 0.5-16 s. The empty-poll backoff now starts at the configured maximum
  (``EDA_SANDBOX_ESM_IDLE_POLL``, default 0.1 s), and receives long-poll
  (``batching.BatchFilling``), so an event is picked up as soon as it lands.
* **Parallel pollers.** Every SQS mapping gets ``EDA_SANDBOX_ESM_POLLERS`` pollers in
  all (default 4; AWS starts with 5). The extra ones back off to 1 s when idle, so an
  idle sandbox stays cheap, and they join within a second when a backlog appears.
  FIFO queues get them too, as on AWS, where a FIFO mapping scales to the number of
  active message groups while one group is never processed by two invocations at
  once. The queue itself enforces that: LocalStack's ``FifoQueue.receive`` takes a
  whole group out of its group queue and puts it back only when none of the group's
  messages is in flight (deleted or visible again), so two pollers never hold messages
  of one group, and each poller invokes its batch's groups in order. With one poller
  a FIFO mapping ran its groups' invocations one after another, and 50 events/s over
  32 groups backed up by seconds (bench/RESULTS.md).

What a client sees stays AWS's: the pollers of a mapping fill one batch at a time up to
BatchSize within the batching window (``batching.py``, applied with the speed-ups off
too), and a poller takes a place within the mapping's concurrency (``ScalingConfig``
maximum, reserved concurrency) before it receives, so parallel pollers neither split a
batch nor run more invocations at once than AWS would.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eda_sandbox.config import load_settings
from eda_sandbox.patches import switch
from eda_sandbox.patches.awslambda.batching import BatchFilling

LOG = logging.getLogger(__name__)
_EXTRA_IDLE_BACKOFF = 1.0


def tune_event_source_mappings(*_args: Any) -> None:
    from localstack.services.lambda_.event_source_mapping import esm_worker
    from localstack.utils.backoff import ExponentialBackoff
    from localstack.utils.patch import patch

    speedups = switch.enabled()

    def backoff(*args: Any, **kwargs: Any) -> ExponentialBackoff:
        # Start at the cap when the cap is lower than the start (LocalStack's own order
        # of operations returns initial_interval first, whatever the cap).
        if "initial_interval" in kwargs and "max_interval" in kwargs:
            kwargs["initial_interval"] = min(kwargs["initial_interval"], kwargs["max_interval"])
        return ExponentialBackoff(*args, **kwargs)

    if speedups:
        setattr(esm_worker, "ExponentialBackoff", backoff)  # noqa: B010 - a module global

    # Validated by the launcher (Settings), which passes it on to LocalStack.
    pollers = load_settings().esm_pollers if speedups else 1

    @patch(esm_worker.EsmWorker.start)
    def start(fn: Any, self: Any) -> None:
        poller: Any = getattr(self, "poller", None)
        if type(poller).__name__ != "SqsPoller":
            fn(self)
            return
        # Before LocalStack's poller thread starts: its first receive must fill a batch too.
        # Always (a fix, not a speed-up): AWS's batching window and BatchSize.
        if not isinstance(poller.source_client, BatchFilling):
            poller.source_client = BatchFilling(poller.source_client, poller, self._shutdown_event)
        if speedups and "poll_events" not in vars(poller):
            _invoke_groups_concurrently(self, poller)
        fn(self)
        if pollers <= 1:
            return
        # A stop and start within one poll must not leave the old threads running too.
        generation = getattr(self, "_eda_generation", 0) + 1
        self._eda_generation = generation
        for index in range(1, pollers):
            threading.Thread(
                target=_extra_poller,
                args=(self, poller, generation),
                name=f"event-source-mapping-poller-{self.uuid}-{index}",
                daemon=True,
            ).start()


_deferred = threading.local()
_MAX_INVOKES = 10  # a FIFO batch holds at most 10 messages, so at most 10 groups


def _concurrency_limit(worker: Any) -> int:
    """How many invocations this mapping may run at once: its ScalingConfig maximum and
    the function's reserved concurrency, as on AWS, capped at ``_MAX_INVOKES``."""
    limit = _MAX_INVOKES
    config = worker.esm_config
    scaling = (config.get("ScalingConfig") or {}).get("MaximumConcurrency")
    function = worker._state.functions.get(config["FunctionArn"].split(":")[6])
    reserved = getattr(function, "reserved_concurrent_executions", None)
    for bound in (scaling, reserved):
        if bound:
            limit = min(limit, int(bound))
    return max(1, limit)


def _invoke_groups_concurrently(worker: Any, poller: Any) -> None:
    """Invoke one FIFO batch's message groups side by side instead of one after another,
    within the mapping's concurrency.

    LocalStack splits a FIFO batch by message group and invokes the groups in turn, so
    the last group of a ten-group batch waited for nine invocations, and at 50 events/s
    over 32 groups that made p95 latency 0.4-0.9 s (bench/RESULTS.md). AWS processes
    different message groups concurrently, one instance per group. Each group still gets
    one invocation with its messages in order, and the queue keeps every group of the
    batch locked until its own messages are deleted. A standard queue's batch is one
    call, as before. Every invocation of the mapping, from any of its pollers, counts
    against ``_concurrency_limit``, so parallel pollers and groups never exceed a
    function's reserved concurrency (that was throttled, and the batch came back only
    after the visibility timeout). A failed group is logged as LocalStack logs a failed
    batch, and no longer keeps the groups after it from being invoked.
    """
    poll_events = poller.poll_events
    handle_messages = poller.handle_messages
    pool: list[ThreadPoolExecutor] = []
    running = threading.Condition()
    active = [0]

    def handle(messages: list[dict[str, Any]]) -> None:
        batches = getattr(_deferred, "batches", None)
        if batches is None:
            limited(messages)
        else:
            batches.append(messages)  # collected during this thread's poll, run below

    def limited(messages: list[dict[str, Any]]) -> None:
        with running:
            running.wait_for(lambda: active[0] < _concurrency_limit(worker))
            active[0] += 1
        try:
            handle_messages(messages)
        finally:
            release()

    def release() -> None:
        with running:
            active[0] -= 1
            running.notify_all()

    def logged(messages: list[dict[str, Any]], reserved: bool = False) -> None:
        try:
            if reserved:
                try:
                    handle_messages(messages)
                finally:
                    release()
            else:
                limited(messages)
        except Exception as e:  # noqa: BLE001 - as LocalStack's poller: log and go on
            LOG.warning("Polling or batch processing failed: %s", e)

    def poll() -> None:
        # A poller takes its batch's place before it fills the batch, so no batch is
        # taken (and kept invisible) that could not run yet.
        with running:
            running.wait_for(lambda: active[0] < _concurrency_limit(worker))
            active[0] += 1
        batches: list[list[dict[str, Any]]] = []
        _deferred.batches = batches
        try:
            poll_events()
        finally:
            _deferred.batches = None
            if not batches:
                release()
        if len(batches) == 1:
            logged(batches[0], reserved=True)
            return
        if not pool:
            pool.append(ThreadPoolExecutor(_MAX_INVOKES, thread_name_prefix="esm-groups"))
        futures = [pool[0].submit(logged, batches[0], True)]
        futures += [pool[0].submit(logged, messages) for messages in batches[1:]]
        for future in futures:
            future.result()

    poller.handle_messages = handle
    poller.poll_events = poll


def _extra_poller(worker: Any, poller: Any, generation: int) -> None:
    from localstack.services.lambda_.event_source_mapping.pollers.poller import (
        EmptyPollResultsException,
    )

    stop: threading.Event = worker._shutdown_event
    wait = _EXTRA_IDLE_BACKOFF
    while not stop.is_set() and worker._eda_generation == generation:
        try:
            poller.poll_events()
            wait = 0.0
        except EmptyPollResultsException:
            wait = _EXTRA_IDLE_BACKOFF
        except Exception as e:  # noqa: BLE001 - the primary poller reports errors; we retry
            LOG.debug("extra poller for %s: %s", worker.uuid, e)
            wait = 2.0
        stop.wait(wait)


def widen_async_invoker_pool(*_args: Any) -> None:
    """More threads for asynchronous invokes (EventBridge, SNS -> Lambda, ``Event``).

    LocalStack's async event manager runs each received event synchronously in a pool of
    ``min(32, cores + 4)`` threads, 6 on a 2-core machine, so at most 6 async invocations
    of a function run at once however many its reserved concurrency allows. AWS scales
    async invokes with concurrency; ``EDA_SANDBOX_ASYNC_INVOKERS`` (default 16) sets the
    pool. Concurrency limits still apply: the Lambda service throttles above them.
    """
    if not switch.enabled():
        return
    from localstack.services.lambda_.invocation import event_manager

    workers = load_settings().async_invokers
    original_init = event_manager.Poller.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        prefix = self.invoker_pool._thread_name_prefix
        self.invoker_pool.shutdown(wait=False)  # no thread has started yet
        self.invoker_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix)

    event_manager.Poller.__init__ = init  # type: ignore[method-assign]
