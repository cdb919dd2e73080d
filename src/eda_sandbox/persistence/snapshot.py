"""One snapshot file: the pickled state of one service, replaced atomically.

Pickling is Python's C pickler first, LocalStack's own codec second
(``localstack.state.pickle``, dill with LocalStack's dispatch table, which its state API
uses): dill's pickler is written in Python and took 1.5 s for a queue of 5,000 messages
where the C pickler took 33 ms, and a snapshot is taken every second. dill stays the
fallback for state the C pickler refuses (a lambda kept in a store). The file starts with a header
line, so a file that is not ours, or one cut short, is told apart from an empty state
and reported with its path instead of starting the sandbox silently empty.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from eda_sandbox.errors import SnapshotCorruptError
from eda_sandbox.persistence import reducers

HEADER = b"eda-sandbox-snapshot 1\n"


def encode(state: Any) -> bytes:
    """``state`` as snapshot bytes (header + pickle)."""
    buffer = io.BytesIO()
    buffer.write(HEADER)
    fast = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    fast.dispatch_table = reducers.dispatch_table()
    try:
        fast.dump(state)
        return buffer.getvalue()
    except (pickle.PicklingError, TypeError, AttributeError):
        pass
    from localstack.state.pickle import Pickler

    reducers.install()
    buffer = io.BytesIO()
    buffer.write(HEADER)
    Pickler(buffer).dump(state)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader (or a crash) sees the old file or
    the new one, never half of one: a temporary file in the same folder, then
    ``os.replace``. No fsync: the bound we promise is for the sandbox's processes being
    killed, and the kernel keeps a killed process's writes; an fsync a second would cost
    every developer's disk for a power cut the sandbox does not claim to survive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path) -> Any | None:
    """The state in ``path``; None when there is no snapshot yet.

    Raises
    ------
    SnapshotCorruptError
        The file exists but is not a whole snapshot of this format.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SnapshotCorruptError(path, f"unreadable: {e}") from e
    return read_bytes(data, path)


def read_bytes(data: bytes, path: Path | str = "<bytes>") -> Any:
    """The state in ``data`` (a snapshot file's content); ``path`` names it in errors."""
    if not data.startswith(HEADER):
        raise SnapshotCorruptError(path, "not an eda-sandbox snapshot (header missing)")
    import dill

    reducers.install()
    try:
        # Only files the sandbox wrote itself, in its own state folder, are loaded.
        return dill.loads(data[len(HEADER) :])  # noqa: S301
    # What a cut-short or foreign pickle raises: it names a class we do not have, ends
    # early, or holds a value the class's constructor refuses.
    except (
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        TypeError,
        ValueError,
        IndexError,
        KeyError,
    ) as e:
        raise SnapshotCorruptError(path, f"{type(e).__name__}: {e}") from e
