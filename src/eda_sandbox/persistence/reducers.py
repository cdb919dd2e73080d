"""How locks and conditions are pickled: as fresh, unlocked ones.

dill (0.3.6, LocalStack's pin) pickles an ``RLock`` with the owner and count it reads
from the lock's ``repr``; on Python 3.13 an unlocked RLock's repr says ``owner=0``, and
the restored lock is held by thread 0 forever, so the first ``with store.lock`` after a
restart hangs (seen with ``sqs_stores``). The standard pickler refuses locks outright. A
``Condition`` would be pickled with the waiters of the moment, so a long poll that was
waiting would eat a ``notify`` meant for a live one. A restored store starts with no
thread inside it: every lock is free and nobody waits.
"""

from __future__ import annotations

import copyreg
import threading
from typing import Any

_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())
_installed = False


def _lock(_obj: Any) -> tuple[Any, tuple[()]]:
    return threading.Lock, ()


def _rlock(_obj: Any) -> tuple[Any, tuple[()]]:
    return threading.RLock, ()


def _condition(obj: threading.Condition) -> tuple[Any, tuple[Any]]:
    # The lock is pickled by reference, so a queue's three conditions keep sharing its
    # one mutex after a restore, as ``queue.Queue`` requires.
    return threading.Condition, (obj._lock,)  # type: ignore[attr-defined]


def dispatch_table() -> dict[type, Any]:
    """copyreg's table plus ours, for the standard (C) pickler."""
    table: dict[type, Any] = dict(copyreg.dispatch_table)
    table.update({_LOCK: _lock, _RLOCK: _rlock, threading.Condition: _condition})
    return table


def install() -> None:
    """Register the same reducers in LocalStack's dill dispatch table (idempotent)."""
    global _installed
    if _installed:
        return
    from localstack.state.pickle import add_dispatch_entry

    for cls, reduce in dispatch_table().items():
        if cls in (_LOCK, _RLOCK, threading.Condition):
            add_dispatch_entry(cls, _saving(reduce), subclasses=cls is threading.Condition)
    _installed = True


def _saving(reduce: Any) -> Any:
    def save(pickler: Any, obj: Any) -> None:
        pickler.save_reduce(*reduce(obj), obj=obj)

    return save
