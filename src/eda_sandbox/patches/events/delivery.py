"""EventBridge delivers to rule targets as AWS does: resource policies, retries, the
dead-letter queue, and every failure logged at warn (applied as EventBridge loads,
``patches/loading.py``).

Upstream (LocalStack 2026.3.0, ``services/events``): ``TargetSender.process_event``
delivers an event to a target once. When that raises (a deleted function or queue, a
function that never existed), ``_process_rules`` logs ``TargetDeliveryFailure`` at INFO,
which the default warn level hides, and the event is gone: the target's ``RetryPolicy``
and ``DeadLetterConfig`` are stored and listed but never used (LocalStack issue 11630 is
still open). No resource-based policy is checked either, so a function without a
permission for ``events.amazonaws.com`` was invoked anyway.

What changes, for every target kind and for scheduled rules alike (the wrapper sits on
``TargetSender.process_event``, which both call):

- A Lambda, SQS or SNS target must allow ``events.amazonaws.com`` in its resource-based
  policy (``permissions``); otherwise the delivery is denied (``NO_PERMISSIONS``) and the
  target is not called, as on AWS.
- A failure is classified as AWS does (``failures``). A missing resource or permission is
  not retried; throttling, server errors, connection failures and a function that is not
  ready yet are retried within the target's ``RetryPolicy`` (AWS's defaults: 185 retries,
  24 hours). A retry waits in one timer thread, not in the thread that matched the event.
- When the delivery gives up, the event (as matched, before the target's input
  transformation) goes to the target's ``DeadLetterConfig`` queue with AWS's message
  attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
  ``EXHAUSTED_RETRY_CONDITION`` and ``RETRY_ATTEMPTS``, provided the queue's policy lets
  EventBridge send to it. AWS's guide says every message carries all of them without
  saying what ``EXHAUSTED_RETRY_CONDITION`` holds for an error that is never retried;
  such a message says ``MaximumRetryAttempts`` with ``RETRY_ATTEMPTS`` 0.
- Every failed attempt is logged at WARNING, with what happens next.

The back-off: AWS documents "exponential back off and jitter" but not its intervals.
Retry n waits 2**(n-1) s, at most 10 minutes, less a random part of up to half, which
spreads AWS's default 185 retries over about a day. ``EDA_SANDBOX_RETRY_DELAYS=compressed``
(the default) divides every wait by 60, as for Lambda's async retries; ``aws`` keeps them.
The event's age is measured in real seconds either way, so with compressed waits more
retries fit in ``MaximumEventAgeInSeconds`` than on AWS (README, "Fidelity").
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from eda_sandbox.config import load_settings
from eda_sandbox.patches.events.failures import Failure, TargetAccessDeniedError, classify
from eda_sandbox.patches.events.permissions import denial, target_denial

LOG = logging.getLogger(__name__)
# AWS's RetryPolicy defaults.
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_EVENT_AGE_SECONDS = 86_400
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 600.0
RETRY_WORKERS = 4


def backoff(retry: int, factor: float = 1.0, rng: random.Random | None = None) -> float:
    """Seconds before retry number ``retry`` (1 for the first), times ``factor``."""
    full = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2.0 ** min(retry - 1, 30))
    jitter: float = (rng or random).uniform(0.5, 1.0)
    return full * jitter * factor


@dataclass(frozen=True)
class RetryPolicy:
    """A target's ``RetryPolicy``, with AWS's defaults for what it leaves out."""

    attempts: int = DEFAULT_RETRY_ATTEMPTS
    max_age: float = DEFAULT_EVENT_AGE_SECONDS

    @classmethod
    def of(cls, target: dict[str, Any]) -> RetryPolicy:
        policy = target.get("RetryPolicy") or {}
        return cls(
            int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)),
            float(policy.get("MaximumEventAgeInSeconds", DEFAULT_EVENT_AGE_SECONDS)),
        )


def exhausted(
    policy: RetryPolicy, failure: Failure, retries: int, age: float, delay: float
) -> str | None:
    """The limit that ends the delivery now (``EXHAUSTED_RETRY_CONDITION``), or None to
    retry after ``delay`` seconds. ``retries`` were made already; the event is ``age``
    seconds old. A retry that would start after the maximum age is not made."""
    if not failure.retryable or retries >= policy.attempts:
        return "MaximumRetryAttempts"
    if age + delay > policy.max_age:
        return "MaximumEventAgeInSeconds"
    return None


def dead_letter_attributes(
    rule_arn: str, target_arn: str, failure: Failure, condition: str, retries: int
) -> dict[str, dict[str, str]]:
    """The message attributes of a dead-letter message, as AWS names them."""
    values = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target_arn,
        "ERROR_CODE": failure.code,
        "ERROR_MESSAGE": failure.message or failure.code,
        "EXHAUSTED_RETRY_CONDITION": condition,
        "RETRY_ATTEMPTS": str(retries),
    }
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


class RetryTimer:
    """Runs each callback at its time on a few worker threads; one thread waits for all.

    Hand-written: ``sched.scheduler.run`` cannot be woken for an earlier entry, and
    LocalStack's ``Scheduler`` compares its tasks when two deadlines are equal.
    """

    def __init__(self, workers: int = RETRY_WORKERS) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._changed = threading.Condition()
        self._order = itertools.count()
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        with self._changed:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="events-retry")
                threading.Thread(target=self._run, name="events-retry-timer", daemon=True).start()
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), callback))
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                callback = heapq.heappop(self._due)[2]
                pool = self._pool
            assert pool is not None  # set before the thread started
            pool.submit(callback)


Send = Callable[[Any, dict[str, Any], Any], None]


class Deliveries:
    """Delivers events to targets with ``send`` (LocalStack's own ``process_event``),
    retrying and dead-lettering as AWS does."""

    def __init__(self, send: Send, delay_factor: float, timer: RetryTimer | None = None) -> None:
        self._send = send
        self._factor = delay_factor
        self._timer = timer or RetryTimer()
        self._sqs: dict[tuple[str, str], Any] = {}

    def deliver(
        self, sender: Any, event: dict[str, Any], trace: Any, retries: int = 0, start: float = 0
    ) -> None:
        """One attempt to deliver ``event`` with ``sender`` (a ``TargetSender``)."""
        start = start or time.monotonic()
        try:
            if reason := target_denial(sender.target, sender.rule_arn):
                raise TargetAccessDeniedError(reason)
            self._send(sender, dict(event), trace)
            return
        except Exception as error:  # noqa: BLE001 - every failure is classified, as AWS does
            failure = classify(error)
        policy = RetryPolicy.of(sender.target)
        delay = backoff(retries + 1, self._factor)
        condition = exhausted(policy, failure, retries, time.monotonic() - start, delay)
        what = (
            f"EventBridge rule {sender.rule_arn} could not deliver event {event.get('id')} "
            f"to target {sender.target.get('Id')} ({sender.target['Arn']}): "
            f"{failure.code}: {failure.message}"
        )
        if condition is None:
            LOG.warning("%s; retry %d of %d in %.2f s", what, retries + 1, policy.attempts, delay)
            self._timer.call_later(
                delay, lambda: self.deliver(sender, event, trace, retries + 1, start)
            )
            return
        self._dead_letter(sender, event, failure, condition, retries, what)

    def _dead_letter(
        self,
        sender: Any,
        event: dict[str, Any],
        failure: Failure,
        condition: str,
        retries: int,
        what: str,
    ) -> None:
        gave_up = f"{what}; gave up after {retries} retries ({condition})"
        dlq = (sender.target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            LOG.warning("%s; dropped: the target has no dead-letter queue", gave_up)
            return
        try:
            if reason := denial(dlq, sender.rule_arn):
                raise TargetAccessDeniedError(reason)
            attributes = dead_letter_attributes(
                sender.rule_arn, sender.target["Arn"], failure, condition, retries
            )
            self._send_dead_letter(sender.rule_arn, dlq, event, attributes)
        except (ClientError, TargetAccessDeniedError) as e:
            LOG.warning(
                "%s; dropped: it could not be sent to the dead-letter queue %s either: %s",
                gave_up,
                dlq,
                classify(e).message,
            )
            return
        LOG.warning("%s; sent to the dead-letter queue %s", gave_up, dlq)

    def _send_dead_letter(
        self, rule_arn: str, dlq: str, event: dict[str, Any], attributes: dict[str, Any]
    ) -> None:
        from localstack.services.events.utils import to_json_str
        from localstack.utils.aws.arns import sqs_queue_url_for_arn
        from localstack.utils.aws.client_types import ServicePrincipal

        body = {k: v for k, v in event.items() if k != "event-bus-name"}  # internal only
        self._client(dlq).request_metadata(
            service_principal=ServicePrincipal.events, source_arn=rule_arn
        ).send_message(
            QueueUrl=sqs_queue_url_for_arn(dlq),
            MessageBody=to_json_str(body),
            MessageAttributes=attributes,
        )

    def _client(self, queue_arn: str) -> Any:
        from localstack.aws.connect import connect_to

        _, _, _, region, account, _ = queue_arn.split(":", 5)
        if (account, region) not in self._sqs:
            factory = connect_to(aws_access_key_id=account, region_name=region)
            self._sqs[(account, region)] = factory.sqs
        return self._sqs[(account, region)]


def deliver_targets_as_aws_does(*_args: Any) -> None:
    from localstack.services.events.target import TargetSender
    from localstack.utils.patch import patch

    deliveries: list[Deliveries] = []

    @patch(TargetSender.process_event)
    def process_event(fn: Send, self: Any, event: dict[str, Any], trace_header: Any) -> None:
        if not deliveries:  # settings are read once, in LocalStack's process
            deliveries.append(Deliveries(fn, load_settings().retry_delay_factor))
        deliveries[0].deliver(self, event, trace_header)
