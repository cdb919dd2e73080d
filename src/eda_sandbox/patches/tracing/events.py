"""Journey hops of EventBridge: PutEvents, each rule's decision, the target invocation.

Wraps (LocalStack 2026.3.0):

- ``EventsProvider._process_entry``: one PutEvents entry accepted (bus, source,
  detail-type, the EventId EventBridge gave it);
- ``EventsProvider._process_rules_async``: the end of matching one event's rules (the
  event is in flight until then; nothing is shown for it), and the provider's
  ``start_worker_thread``, which says whether that matching was started at all (a bus
  without rules starts none);
- ``EventsProvider._process_rules``: one rule against one event, on the rules' worker
  thread, and the ``matches_event`` it calls: upstream's own decision is recorded (as
  it is made, before any target is sent to), not matched a second time, which cost as
  much as the rest of the event's hops together; a miss is matched again key by key to
  name the pattern key that failed (upstream only answers yes or no);
- ``TargetSender.process_event``: one delivery attempt to one target, and its error (a
  failed attempt stays in flight: ``patches/events/delivery.py`` retries it);
- ``Deliveries._dead_letter`` (``patches/events/delivery.py``): the delivery gave up,
  into the target's DLQ with the error code and the exhausted retry condition.
"""

from __future__ import annotations

import json
import time
from typing import Any

from eda_sandbox.journeys.model import HopKind
from eda_sandbox.journeys.store import JourneyStore
from eda_sandbox.patches.tracing.base import (
    Instrumentor,
    arg,
    enabled,
    linked,
    set_thread_value,
    short_name,
    thread_set,
    thread_value,
)

_PROVIDER = "localstack.services.events.provider"
_TARGET = "localstack.services.events.target"
# Our own retrying delivery (patches/events/delivery.py) gives up here: to its DLQ or not.
_DELIVERY = "eda_sandbox.patches.events.delivery"
_MISSING = "<missing>"


def failed_pattern_key(pattern: dict[str, Any], event: dict[str, Any]) -> tuple[str, str]:
    """The first pattern key (a dotted path into the event) that the event fails, and the
    event's value there."""
    from localstack.utils.event_matcher import matches_event

    def walk(sub: dict[str, Any], value: Any, path: list[str]) -> tuple[str, str] | None:
        for key, condition in sub.items():
            if key.startswith("$or"):
                continue
            nested: dict[str, Any] = {key: condition}
            for outer in reversed(path):
                nested = {outer: nested}
            if matches_event(json.dumps(nested), event):
                continue
            inner = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
            if isinstance(condition, dict) and isinstance(inner, dict):
                return walk(condition, inner, [*path, key]) or (".".join([*path, key]), "{...}")
            shown = inner if isinstance(inner, str) else json.dumps(inner)
            return ".".join([*path, key]), shown
        return None

    return walk(pattern, event, []) or ("$or", _MISSING)


def _correlation_id(event: dict[str, Any]) -> str | None:
    detail = event.get("detail")
    value = detail.get("correlation_id") if isinstance(detail, dict) else None
    return str(value) if value is not None else None


class EventsInstrumentor(Instrumentor):
    def __init__(self, store: JourneyStore | None = None) -> None:
        super().__init__(store)
        # Entries after the first of their PutEvents request whose rules are not matched
        # yet: they share the request's trace but must not join its first entry's journey.
        self._later_entries: set[str | None] = set()

    TARGETS = (
        (_PROVIDER, "EventsProvider._process_entry", "_patched_process_entry"),
        (_PROVIDER, "EventsProvider._process_rules_async", "_patched_process_rules_async"),
        (_PROVIDER, "start_worker_thread", "_patched_start_worker_thread"),
        (_PROVIDER, "EventsProvider._process_rules", "_patched_process_rules"),
        (_PROVIDER, "matches_event", "_patched_matches_event"),
        (
            "localstack.services.events.target",
            "TargetSender.process_event",
            "_patched_process_event",
        ),
    )

    def _patched_process_entry(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        entry = arg(args, kwargs, 0, "entry")
        processed = arg(args, kwargs, 1, "processed_entries")
        context = arg(args, kwargs, 3, "context")
        before, started = len(processed), time.time()
        set_thread_value("events_rules_started", False)
        set_thread_value("events_later_entry", before > 0)
        result = wrapped(*args, **kwargs)
        if len(processed) > before and "EventId" in processed[-1]:
            event_id = processed[-1]["EventId"]
            try:
                detail = json.loads(entry.get("Detail") or "{}")
            except ValueError:
                detail = {}
            header = getattr(context, "trace_context", {}).get("aws_trace_header")
            bus = entry.get("EventBusName") or "default"
            self.record(
                HopKind.PUT_EVENTS,
                short_name(bus),
                keys=(event_id,),
                # In flight until the rules' worker thread has matched every rule.
                opens=(f"events:{event_id}",) if thread_value("events_rules_started") else (),
                correlation_ids=(
                    _correlation_id({"detail": detail}) if isinstance(detail, dict) else None,
                ),
                trace_header=header.to_header_str() if header is not None else None,
                new=True,
                # The request's first entry may continue a journey (a function's own
                # PutEvents); the others share its trace but are events of their own.
                join_trace=before == 0,
                at=started,
                event_id=event_id,
                source=entry.get("Source"),
                detail_type=entry.get("DetailType"),
            )
        return result

    def _patched_start_worker_thread(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Upstream starts the rules' worker only for a bus with rules. Reading that here
        # costs nothing; looking the bus up again per entry cost 55 us (measured).
        if kwargs.get("name") == "events-process-rules":
            set_thread_value("events_rules_started", True)
            if thread_value("events_later_entry"):
                self._later_entries.add(kwargs["params"]["event_formatted"].get("id"))
        return wrapped(*args, **kwargs)

    def _patched_process_rules_async(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        params = arg(args, kwargs, 0, "params")
        event_id = params["event_formatted"].get("id")
        later = event_id in self._later_entries
        self._later_entries.discard(event_id)
        try:
            # This worker may record a rule's hop before PutEvents records the entry's.
            with thread_set("events_join_trace", not later):
                return wrapped(*args, **kwargs)
        finally:
            if event_id:
                self.store.close(event_id, (f"events:{event_id}",))

    def _patched_process_rules(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        rule = arg(args, kwargs, 0, "rule")
        event = arg(args, kwargs, 3, "event_formatted")
        header = arg(args, kwargs, 4, "trace_header")
        # Read by _patched_matches_event, once: the rule's own match in upstream's code.
        pending = {"rule": rule, "event": event, "header": header}
        with thread_set("events_rule", pending), linked(event.get("id")):
            return wrapped(*args, **kwargs)

    def _patched_matches_event(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        pending = thread_value("events_rule")
        if pending is None or "rule" not in pending or not enabled():
            return result
        rule, event = pending["rule"], pending["event"]
        if arg(args, kwargs, 1, "event") is not event:
            return result  # some other match on this thread, not the rule's
        header = pending.pop("header")
        del pending["rule"], pending["event"]
        self._rule_decided(rule, event, header, bool(result))
        return result

    def _rule_decided(self, rule: Any, event: dict[str, Any], header: Any, matched: bool) -> None:
        event_id = event.get("id")
        common: dict[str, Any] = {
            "keys": (event_id,),
            "correlation_ids": (_correlation_id(event),),
            "trace_header": header.to_header_str() if header is not None else None,
            "new": True,
            "join_trace": thread_value("events_join_trace"),
            "event_id": event_id,
            "bus": rule.event_bus_name,
            "pattern": rule.event_pattern,
        }
        if matched:
            self.record(HopKind.RULE_MATCHED, rule.name, **common)
            return
        try:
            key, value = failed_pattern_key(json.loads(rule.event_pattern or "{}"), event)
        except ValueError:
            key, value = "(pattern)", _MISSING
        self.record(
            HopKind.RULE_NOT_MATCHED,
            rule.name,
            reason=f"{key}={value!r} does not match the pattern",
            failed_key=key,
            failed_value=value,
            **common,
        )

    def _patched_process_event(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        event = arg(args, kwargs, 0, "event")
        event_id = event.get("id") if isinstance(event, dict) else None
        target = instance.target
        started = time.time()
        common: dict[str, Any] = {
            "keys": (event_id,),
            "at": started,
            "event_id": event_id,
            "target_id": target.get("Id"),
            "target_arn": target.get("Arn"),
            "rule": instance.rule_name if hasattr(instance, "rule_name") else None,
        }
        token = f"target:{event_id}:{target.get('Id')}"
        with linked(event_id):
            try:
                result = wrapped(*args, **kwargs)
            except Exception as e:
                code = getattr(e, "response", {}).get("Error", {}).get("Code") or type(e).__name__
                self.record(
                    HopKind.TARGET_INVOKED,
                    short_name(target.get("Arn")),
                    failed=True,
                    reason=f"{code}: {e}",
                    opens=(token,),
                    error_code=code,
                    **common,
                )
                raise
        name = short_name(target.get("Arn"))
        self.record(HopKind.TARGET_INVOKED, name, closes=(token,), **common)
        return result

    def _patched_dead_letter(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not enabled():
            return wrapped(*args, **kwargs)
        sender = arg(args, kwargs, 0, "sender")
        event = arg(args, kwargs, 1, "event")
        failure = arg(args, kwargs, 2, "failure")
        condition = arg(args, kwargs, 3, "condition")
        retries = arg(args, kwargs, 4, "retries")
        event_id = event.get("id") if isinstance(event, dict) else None
        dlq = (sender.target.get("DeadLetterConfig") or {}).get("Arn")
        self.record(
            HopKind.DEAD_LETTERED,
            short_name(dlq) if dlq else "(dropped: no DLQ)",
            keys=(event_id,),
            failed=True,
            reason=f"{failure.code}: {condition} after {retries} retries",
            closes=(f"target:{event_id}:{sender.target.get('Id')}",),
            event_id=event_id,
            error_code=failure.code,
            retry_attempts=retries,
            target_arn=sender.target.get("Arn"),
        )
        # The DLQ's SendMessage is this hop, not the start of another journey.
        with thread_set("dead_letter_send", True):
            return wrapped(*args, **kwargs)
