"""Remembering what ``make up`` last applied, so a second ``make up`` costs no AWS calls.

The fingerprint covers the topology file, every function's code folder, the constraints
and the identity of the running sandbox (pid and start time): a restarted sandbox, an
edited handler or a changed declaration all force a real apply. ``make bootstrap`` (and
``python -m eda_sandbox.topology apply``) always converges, which also repairs drift.
This module imports nothing heavy on purpose: the quick path must stay well under 1 s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from eda_sandbox.config import Settings


def _sandbox_identity(settings: Settings) -> str:
    try:
        pid = settings.pid_file.read_text().split()[0]
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "unknown"
    return f"{pid}:{started}"


def fingerprint(settings: Settings, topology_file: Path) -> str | None:
    """None when the file cannot be read: then the caller simply applies."""
    digest = hashlib.sha256()
    try:
        raw = topology_file.read_bytes()
        data = yaml.safe_load(raw) or {}
    except (OSError, yaml.YAMLError):
        return None
    digest.update(raw)
    digest.update(settings.endpoint_url.encode())
    digest.update(_sandbox_identity(settings).encode())
    base = topology_file.parent / str(data.get("base_dir", "."))
    functions = data.get("functions") or {}
    for name in sorted(functions) if isinstance(functions, dict) else []:
        code = (functions[name] or {}).get("code") if isinstance(functions[name], dict) else None
        folder = base / str(code or "")
        if not code or not folder.is_dir():
            return None
        for file in sorted(folder.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(base)).encode())
                digest.update(file.read_bytes())
    constraints = base / "constraints.txt"
    if constraints.is_file():
        digest.update(constraints.read_bytes())
    return digest.hexdigest()


def _record(settings: Settings) -> Path:
    return settings.state_dir / "applied.json"


def unchanged_since_last_apply(settings: Settings, topology_file: Path) -> bool:
    current = fingerprint(settings, topology_file)
    if current is None or not settings.outputs_file.is_file():
        return False
    try:
        last = json.loads(_record(settings).read_text())
    except (OSError, ValueError):
        return False
    return bool(last.get("fingerprint") == current and last.get("file") == str(topology_file))


def remember_apply(settings: Settings, topology_file: Path) -> None:
    current = fingerprint(settings, topology_file)
    if current is not None:
        record = {"fingerprint": current, "file": str(topology_file)}
        _record(settings).write_text(json.dumps(record))
