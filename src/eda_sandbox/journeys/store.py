"""The journey store: a bounded ring of the last N journeys, indexed by every id they carry.

It lives inside LocalStack's process (the tracing patches write to it) and is read over
HTTP (``/_eda-sandbox/journeys``). Memory is bounded twice: at most ``capacity`` journeys
(the least recently updated one goes first) and at most ``max_hops`` hops per journey (a
message that loops forever keeps its first hops and counts the rest).

Why not a library: what is needed is an LRU ring with a secondary index whose entries
leave with their journey; ``functools.lru_cache`` and ``cachetools`` have no hook for
the index, and the whole thing is a dict, an OrderedDict and a lock.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable

from eda_sandbox.journeys.model import Hop, Journey

DEFAULT_MAX_HOPS = 500


class JourneyStore:
    """Thread-safe; every method returns copies, so readers never see a half-written hop."""

    def __init__(self, capacity: int, max_hops: int = DEFAULT_MAX_HOPS) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be 1 or more, not {capacity}")
        self.capacity = capacity
        self.max_hops = max_hops
        self._journeys: OrderedDict[str, Journey] = OrderedDict()
        self._seq: dict[str, int] = {}
        self._index: dict[str, str] = {}
        # correlation id -> journey ids, an ordered set (a dict), so that a journey leaving
        # the ring is taken out in O(1): one test's or benchmark's correlation id can tag
        # every journey in the ring, and a list made each eviction cost the whole ring.
        self._by_correlation: dict[str, dict[str, None]] = {}
        # trace id -> journey ids, the same way: the entries of one PutEvents request
        # share the request's trace (as on AWS) but are journeys of their own.
        self._by_trace: dict[str, dict[str, None]] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def record(
        self,
        hop: Hop,
        *,
        keys: Iterable[str | None],
        correlation_ids: Iterable[str | None] = (),
        trace_id: str | None = None,
        new: bool = True,
        join_trace: bool = True,
    ) -> str | None:
        """Add ``hop`` to the journey that any of ``keys`` (or ``trace_id``, unless
        ``join_trace`` is false) finds, or to a new one (unless ``new`` is false); return
        the journey's id. With ``join_trace`` false a new journey only carries the trace
        id: one request that starts several events (a PutEvents batch) is one trace."""
        wanted = [k for k in keys if k]
        if trace_id and join_trace:
            wanted.append(trace_id)
        with self._lock:
            journey = self._find_locked(wanted)
            if journey is None:
                if not new:
                    return None
                journey = self._create_locked(trace_id if join_trace else None)
            if journey.trace_id is None and trace_id:
                journey.trace_id = trace_id
                self._by_trace.setdefault(trace_id, {})[journey.id] = None
            for key in wanted:
                if key not in self._index:
                    self._index[key] = journey.id
                    journey.keys.add(key)
            for cid in correlation_ids:
                if cid and cid not in journey.correlation_ids:
                    journey.correlation_ids.add(cid)
                    self._by_correlation.setdefault(cid, {})[journey.id] = None
            if len(journey.hops) < self.max_hops:
                journey.hops.append(hop)
            else:
                journey.dropped_hops += 1
            # Most hops neither open nor close anything; skip the calls (every hop pays them).
            if hop.opens:
                self._open_locked(journey, hop.opens)
            if hop.closes:
                self._close_locked(journey, hop.closes)
            self._counter += 1
            self._seq[journey.id] = self._counter
            self._journeys.move_to_end(journey.id)
            return journey.id

    def close(self, key: str, tokens: Iterable[str]) -> None:
        """Mark ``tokens`` of ``key``'s journey done without a hop (nothing to show)."""
        with self._lock:
            journey = self._find_locked([key])
            if journey is not None:
                self._close_locked(journey, tokens)
                self._counter += 1
                self._seq[journey.id] = self._counter
                self._journeys.move_to_end(journey.id)

    def knows(self, key: str) -> bool:
        """Whether some journey carries ``key`` (cheap: the patches ask it per message)."""
        return key in self._index

    def journey_of(self, key: str) -> str | None:
        """The id of the journey ``key`` finds, or None."""
        return self._index.get(key)

    def trace_of(self, key: str) -> str | None:
        """The trace id of the journey ``key`` finds (cheap, no copy)."""
        jid = self._index.get(key)
        journey = self._journeys.get(jid) if jid is not None else None
        return journey.trace_id if journey is not None else None

    def find(self, key: str) -> list[Journey]:
        """Journeys found by a message, request, event or trace id, or a correlation id."""
        with self._lock:
            ids: list[str] = []
            if key in self._index:
                ids.append(self._index[key])
            elif key in self._journeys:
                ids.append(key)
            ids.extend(j for j in self._by_correlation.get(key, ()) if j not in ids)
            ids.extend(j for j in self._by_trace.get(key, ()) if j not in ids)
            found = [self._journeys[j] for j in ids if j in self._journeys]
            return [copy.deepcopy(j) for j in sorted(found, key=lambda j: j.started)]

    def last(self, count: int) -> list[Journey]:
        """The ``count`` most recently updated journeys, newest first."""
        with self._lock:
            ids = list(reversed(self._journeys))[:count]
            return [copy.deepcopy(self._journeys[j]) for j in ids]

    def updated_since(self, seq: int) -> tuple[int, list[Journey]]:
        """The journeys updated after sequence number ``seq``, oldest update first, and the
        sequence number to ask with next time (``trace --follow``)."""
        with self._lock:
            changed: list[Journey] = []
            for jid in reversed(self._journeys):
                if self._seq[jid] <= seq:
                    break  # ordered by update: everything before is older
                changed.append(copy.deepcopy(self._journeys[jid]))
            return self._counter, list(reversed(changed))

    def clear(self) -> None:
        with self._lock:
            self._journeys.clear()
            self._seq.clear()
            self._index.clear()
            self._by_correlation.clear()
            self._by_trace.clear()

    @property
    def seq(self) -> int:
        """The number of hops recorded so far (``updated_since`` counts from it)."""
        return self._counter

    def __len__(self) -> int:
        return len(self._journeys)

    @staticmethod
    def _open_locked(journey: Journey, tokens: Iterable[str]) -> None:
        for token in tokens:
            if token in journey.closed_early:
                journey.closed_early.discard(token)
            else:
                journey.in_flight.add(token)

    @staticmethod
    def _close_locked(journey: Journey, tokens: Iterable[str]) -> None:
        # Hops come from several threads: a close may be recorded before its open (the
        # rules' worker thread can finish before PutEvents' own hop is written).
        for token in tokens:
            if token in journey.in_flight:
                journey.in_flight.discard(token)
            else:
                journey.closed_early.add(token)

    def _find_locked(self, keys: list[str]) -> Journey | None:
        for key in keys:
            jid = self._index.get(key)
            if jid is not None and jid in self._journeys:
                return self._journeys[jid]
        return None

    def _create_locked(self, trace_id: str | None) -> Journey:
        while len(self._journeys) >= self.capacity:
            old_id, old = self._journeys.popitem(last=False)
            self._seq.pop(old_id, None)
            for key in old.keys:
                if self._index.get(key) == old_id:
                    del self._index[key]
            for index, names in (
                (self._by_correlation, old.correlation_ids),
                (self._by_trace, (old.trace_id,) if old.trace_id else ()),
            ):
                for name in names:
                    others = index.get(name)
                    if others is not None:
                        others.pop(old_id, None)
                        if not others:
                            del index[name]
        journey = Journey(id=trace_id or f"j-{uuid.uuid4().hex}")
        if journey.id in self._journeys:  # a trace id reused after its journey left the ring
            journey.id = f"j-{uuid.uuid4().hex}"
        self._journeys[journey.id] = journey
        return journey


_STORE: JourneyStore | None = None
_STORE_LOCK = threading.Lock()


def get_store() -> JourneyStore:
    """The process's store, sized by ``EDA_SANDBOX_JOURNEYS`` when first asked for."""
    global _STORE
    if _STORE is None:
        with _STORE_LOCK:
            if _STORE is None:
                from eda_sandbox.config import load_settings

                _STORE = JourneyStore(load_settings().journeys)
    return _STORE
