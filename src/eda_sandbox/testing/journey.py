"""Assertions on journeys: where a test's events went, read from the sandbox's store.

``journey(correlation_id)`` (the fixture) gives a :class:`JourneyView` of every journey
that carries the id; its assertions read like the system::

    j = journey(correlation_id).wait_until_settled(timeout=30)
    j.reached("order_consumer").retried(times=2)
    j.dead_lettered("EventQueue-dlq", reason="maxReceiveCount")
    journey(signup_cid).filtered_out("EventQueue", key="event_type")

Every assertion fetches the journeys anew, returns the view (so they chain) and on failure
raises :class:`JourneyAssertionError` showing the whole journey.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from eda_sandbox.errors import JourneyAssertionError
from eda_sandbox.journeys.client import JourneyClient
from eda_sandbox.journeys.model import Hop, HopKind, Journey
from eda_sandbox.journeys.render import as_text
from eda_sandbox.testing.waits import wait_until

# A settled journey must also have been quiet this long: a hop recorded on another
# thread a moment later (an SNS delivery, a rule's worker) has then arrived.
SETTLE_QUIET_SECONDS = 0.3


def _named(resource: str, name: str) -> bool:
    """``EventQueue`` names ``sqs:EventQueue`` and ``EventQueue`` alike."""
    return resource == name or resource.rsplit(":", 1)[-1] == name


class JourneyView:
    """The journeys one id finds (a correlation id may find several events)."""

    def __init__(self, client: JourneyClient, key: str) -> None:
        self.client = client
        self.key = key

    def journeys(self) -> list[Journey]:
        return self.client.find(self.key)

    def hops(self, kind: HopKind | None = None) -> list[Hop]:
        hops = sorted((h for j in self.journeys() for h in j.hops), key=lambda h: h.at)
        return [h for h in hops if kind is None or h.kind == kind]

    def text(self) -> str:
        journeys = self.journeys()
        return as_text(journeys) if journeys else f"(no journey found for {self.key!r})"

    def wait_until_settled(
        self, timeout: float = 30.0, *, quiet: float = SETTLE_QUIET_SECONDS
    ) -> JourneyView:
        """Wait until some journey carries the id and none has a hop in flight."""

        def settled() -> list[Journey] | None:
            journeys = self.journeys()
            if not journeys or not all(j.settled for j in journeys):
                return None
            last = max(j.last_at for j in journeys)
            return journeys if time.time() - last >= quiet else None

        wait_until(
            settled,
            timeout=timeout,
            description=f"the journey of {self.key!r} to settle",
            describe_last=lambda _v: "\n" + self.text(),
        )
        return self

    def wait_for(
        self, condition: Callable[[list[Hop]], bool], description: str, timeout: float = 30.0
    ) -> JourneyView:
        """Wait until ``condition(hops)`` holds (for a journey that never settles)."""
        wait_until(
            lambda: condition(self.hops()),
            timeout=timeout,
            description=f"{description} in the journey of {self.key!r}",
            describe_last=lambda _v: "\n" + self.text(),
        )
        return self

    def reached(self, function: str) -> JourneyView:
        """Some journey invoked ``function`` (whatever the invocation's outcome)."""
        return self._expect(
            lambda h: h.kind == HopKind.INVOKED and _named(h.resource, function),
            f"an invocation of {function!r}",
        )

    def dead_lettered(self, queue: str, reason: str | None = None) -> JourneyView:
        """A message reached the DLQ ``queue`` (or on-failure destination), with ``reason``
        in its reason when given."""
        return self._expect(
            lambda h: (
                h.kind in (HopKind.DEAD_LETTERED, HopKind.ON_FAILURE)
                and _named(h.resource, queue)
                and (reason is None or reason in (h.reason or ""))
            ),
            f"arrival in {queue!r}" + (f" with a reason containing {reason!r}" if reason else ""),
        )

    def filtered_out(self, subscription: str, key: str | None = None) -> JourneyView:
        """The filter policy of ``subscription`` (its endpoint's name) dropped a message,
        on the policy key ``key`` when given."""
        return self._expect(
            lambda h: (
                h.kind == HopKind.FILTERED_OUT
                and _named(h.resource, subscription)
                and (key is None or h.detail.get("failed_key") == key)
            ),
            f"a message filtered out by {subscription!r}" + (f" on {key!r}" if key else ""),
        )

    def not_matched(self, rule: str, key: str | None = None) -> JourneyView:
        """The EventBridge rule ``rule`` did not match, on the pattern key ``key``."""
        return self._expect(
            lambda h: (
                h.kind == HopKind.RULE_NOT_MATCHED
                and h.resource == rule
                and (key is None or h.detail.get("failed_key") == key)
            ),
            f"rule {rule!r} not matching" + (f" on {key!r}" if key else ""),
        )

    def retried(self, times: int, function: str | None = None) -> JourneyView:
        """Exactly ``times`` attempts after the first: SQS redeliveries (receives after
        the first) plus scheduled async retries, of ``function`` when given."""
        hops = self.hops()
        # Reading a DLQ afterwards (a test, `dlq show`) is not a retry.
        dlqs = {h.resource for h in hops if h.kind == HopKind.DEAD_LETTERED}
        retries = [
            h
            for h in hops
            if (
                h.kind == HopKind.RECEIVED
                and h.resource not in dlqs
                and int(h.detail.get("receive_count", 1)) > 1
            )
            or h.kind == HopKind.RETRY_SCHEDULED
        ]
        if function is not None:
            retries = [
                h
                for h in retries
                if _named(h.resource, function) or h.detail.get("receiver") == function
            ]
        if len(retries) != times:
            self._fail(f"expected {times} retries, the journey has {len(retries)}")
        return self

    def _expect(self, match: Callable[[Hop], bool], what: str) -> JourneyView:
        if not any(match(h) for h in self.hops()):
            self._fail(f"expected {what}")
        return self

    def _fail(self, message: str) -> None:
        raise JourneyAssertionError(f"{message}; journey of {self.key!r}:\n{self.text()}")
