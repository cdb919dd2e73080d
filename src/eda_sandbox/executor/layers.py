"""An execution environment's ``/opt``: the function's layers extracted in order, as on AWS.

AWS extracts each layer of a function into ``/opt``, in the function's order, so a later
layer's file replaces an earlier layer's file at the same path while everything else from
both stays visible. Here one folder per distinct layer list (keyed by the layer versions'
ARNs and code hashes) plays ``/opt``: it is built once from LocalStack's own unzipped copy
of each layer (``LayerVersion.code.prepare_for_execution()``, the same cache LocalStack's
Docker executor copies into its containers), files hard-linked where the file system
allows, and shared read-only by every environment with that list. The runtimes then look
where AWS's do: ``python/lib/pythonX.Y/site-packages`` and ``python`` on ``sys.path``,
``nodejs/nodeNN/node_modules`` and ``nodejs/node_modules`` on ``NODE_PATH``, ``bin`` on
``PATH`` and ``lib`` on ``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Opt:
    """The ``/opt`` of an environment; ``root`` is None for a function without layers."""

    root: Path | None

    def _under(self, *parts: str) -> list[str]:
        return [str(self.root.joinpath(*parts))] if self.root is not None else []

    def python_paths(self, version: str) -> list[str]:
        """sys.path entries after the task root, in AWS's order (``version`` like "3.12")."""
        return self._under("python", "lib", f"python{version}", "site-packages") + (
            self._under("python")
        )

    def node_paths(self, major: str) -> list[str]:
        """NODE_PATH entries for layers (``major`` like "22"), in AWS's order."""
        return self._under("nodejs", f"node{major}", "node_modules") + self._under(
            "nodejs", "node_modules"
        )

    def bin_paths(self) -> list[str]:
        return self._under("bin")

    def lib_paths(self) -> list[str]:
        return self._under("lib")


def _link_or_copy(src: str, dst: str) -> None:
    # A later layer's file replaces an earlier one's: unlink first, a link is shared.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def _key(layers: Sequence[Any]) -> str:
    digest = hashlib.sha256(b"opt-v1")
    for layer in layers:
        code = layer.code
        digest.update(f"\0{layer.layer_version_arn}\0{getattr(code, 'code_sha256', '')}".encode())
    return digest.hexdigest()[:24]


def opt_for(cache_dir: Path, layers: Sequence[Any] | None) -> Opt:
    """The merged ``/opt`` for LocalStack ``LayerVersion``s ``layers`` (built once per list)."""
    usable = [layer for layer in layers or [] if getattr(layer, "code", None) is not None]
    if not usable:
        return Opt(None)
    target = cache_dir / _key(usable)
    if target.is_dir():
        return Opt(target)
    with _BUILD_LOCK:
        if target.is_dir():
            return Opt(target)
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".build-"))
        try:
            for layer in usable:  # in the function's order: later layers win
                layer.code.prepare_for_execution()
                source = layer.code.get_unzipped_code_location()
                shutil.copytree(source, staging, copy_function=_link_or_copy, dirs_exist_ok=True)
            # Published atomically: an environment never sees a half-built /opt.
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Opt(target)
