"""Resource names and ARNs of the applied topology, read from its outputs file.

The topology engine writes ``.sandbox/outputs.json`` (path: ``Settings.outputs_file``)
after each apply; physical names may carry a suffix, so producers look them up by the
topology's logical names instead of building them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eda_app.errors import OutputsError
from eda_sandbox.config import load_settings


class Outputs:
    """One loaded outputs file; every lookup names the file and the missing key on error."""

    def __init__(self, data: Mapping[str, Any], source: Path | str = "<memory>") -> None:
        self._data = data
        self.source = str(source)

    def _lookup(self, kind: str, name: str, attribute: str) -> str:
        section = self._data.get(kind)
        if not isinstance(section, Mapping):
            raise OutputsError(f"{self.source}: no {kind!r} section; was the topology applied?")
        resource = section.get(name)
        if not isinstance(resource, Mapping):
            known = ", ".join(sorted(section)) or "none"
            raise OutputsError(f"{self.source}: no {kind}.{name} (known {kind}: {known})")
        value = resource.get(attribute)
        if not isinstance(value, str) or not value:
            raise OutputsError(f"{self.source}: {kind}.{name}.{attribute} is missing or empty")
        return value

    def topic_arn(self, name: str) -> str:
        return self._lookup("topics", name, "arn")

    def bus_arn(self, name: str) -> str:
        return self._lookup("buses", name, "arn")

    def queue_url(self, name: str) -> str:
        return self._lookup("queues", name, "url")

    def queue_arn(self, name: str) -> str:
        return self._lookup("queues", name, "arn")

    def table_name(self, name: str) -> str:
        return self._lookup("tables", name, "name")


def load_outputs(path: Path | str | None = None) -> Outputs:
    """Read the outputs file (default: ``load_settings().outputs_file``) now."""
    source = Path(path) if path is not None else load_settings().outputs_file
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise OutputsError(
            f"{source}: not found; apply the topology first or pass the ARN explicitly"
        ) from e
    except (OSError, json.JSONDecodeError) as e:
        raise OutputsError(f"{source}: unreadable ({e})") from e
    if not isinstance(data, Mapping):
        raise OutputsError(f"{source}: not a JSON object")
    return Outputs(data, source)
