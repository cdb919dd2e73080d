"""The consoles every command writes to: results on stdout, progress and errors on stderr.

Rich is imported when a console is first asked for, so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def stdout() -> Console:
    from rich.console import Console

    return Console()


@functools.cache
def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)
