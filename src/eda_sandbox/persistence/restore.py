"""Putting a loaded snapshot back, and what each service needs after that.

The containers are module-level objects the providers hold references to, so a
snapshot is copied into them in place rather than replacing them.
"""

from __future__ import annotations

import logging
from typing import Any

LOG = logging.getLogger(__name__)


def into(container: Any, saved: Any) -> None:
    """Make ``container`` (an AccountRegionBundle or a moto BackendDict, both dicts)
    hold what ``saved`` held: its items and its attributes (the lock and the
    cross-account dict its region bundles share)."""
    container.clear()
    container.update(saved)
    vars(container).update(vars(saved))


def after_load(name: str, provider: Any) -> None:
    if name == "sqs":
        _requeue_inflight()
    elif name == "events" and provider is not None:
        _rebuild_event_services(provider)


def _requeue_inflight() -> None:
    """In-flight messages become visible again, as when their visibility timeout ends:
    whoever received them is gone with the old process. Their receive counts stay."""
    from localstack.services.sqs.models import sqs_stores

    for _, _, store in sqs_stores.iter_stores():
        for queue in store.queues.values():
            for message in list(queue.inflight):
                message.visibility_deadline = 0.0
            queue.requeue_inflight_messages()


def _rebuild_event_services(provider: Any) -> None:
    """EventBridge's provider keeps a service object per bus, rule and target beside its
    store (``_event_bus_services_store``, ``_rule_services_store``,
    ``_target_sender_store``); PutEvents looks targets up there. Rebuilt from the store,
    as PutRule and PutTargets would build them."""
    from localstack.services.events.event_bus import EventBusService
    from localstack.services.events.models import events_stores
    from localstack.services.events.rule import RuleService

    for account, region, store in events_stores.iter_stores():
        for bus in store.event_buses.values():
            provider._event_bus_services_store[bus.arn] = EventBusService(bus)
            for rule in bus.rules.values():
                rule_service = RuleService(rule)
                provider._rule_services_store[rule.arn] = rule_service
                if rule.schedule_expression:
                    rule_service.create_schedule_job(
                        provider._get_scheduled_rule_job_function(account, region, rule)
                    )
                for target in rule.targets.values():
                    provider.create_target_sender(target, rule.arn, rule.name, region, account)
