"""The garbage-collection patch: survivors are frozen, and a sweep still frees old cycles."""

from __future__ import annotations

_GC_SCRIPT = """
import gc, time, weakref
from eda_sandbox.patches import gc_freeze
from eda_sandbox.errors import WaitTimeoutError
from eda_sandbox.testing import wait_until
gc_freeze._SWEEP_SECONDS = 1.0
gc_freeze.keep_full_collections_short()

class Node:
    pass

def until(condition):
    try:
        return bool(wait_until(condition, timeout=10, interval=0.05))
    except WaitTimeoutError:
        return False

# Survivors of a full collection are frozen out of the next ones.
kept = [Node() for _ in range(1000)]
before = gc.get_freeze_count()
gc.collect()
print("frozen", until(lambda: gc.get_freeze_count() >= before + 1000))

# A cycle alive at that moment and dropped later is still collected by the sweep.
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
gc.collect()
until(lambda: gc.get_freeze_count() > 0)
del a, b
print("swept", until(lambda: gc.collect() is not None and gone() is None))

# The sweep's long pass waits while the process is busy.
sweeps = []
unfreeze = gc.unfreeze
gc.unfreeze = lambda: (sweeps.append(time.monotonic()), unfreeze())
busy_until = time.monotonic() + 2.5
while time.monotonic() < busy_until:
    sum(range(1000))
print("postponed", sweeps == [])
print("then swept", until(lambda: sweeps != []))
"""


def test_full_collections_freeze_survivors_and_a_sweep_frees_old_cycles() -> None:
    import subprocess
    import sys

    # A fresh interpreter: freezing changes the whole process's collector.
    out = subprocess.run(
        [sys.executable, "-c", _GC_SCRIPT], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\n")
    assert out[:4] == ["frozen True", "swept True", "postponed True", "then swept True"]


_SETTLE_SCRIPT = """
import gc, time
from eda_sandbox.patches import gc_freeze
from eda_sandbox.errors import WaitTimeoutError
from eda_sandbox.testing import wait_until
gc_freeze.keep_full_collections_short()
gc.disable()  # no full collection of its own: only the freezer can freeze what follows

class Node:
    pass

before = gc.get_freeze_count()
kept = []
busy_until = time.monotonic() + 2.5  # start-up work, after the first freeze
while time.monotonic() < busy_until:
    kept.append(Node())
try:
    print("settled", bool(wait_until(lambda: gc.get_freeze_count() >= before + len(kept),
                                     timeout=10, interval=0.05)))
except WaitTimeoutError:
    print("settled False")
"""


def test_what_start_up_leaves_is_frozen_in_the_first_quiet_second() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _SETTLE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    assert out[0] == "settled True"
