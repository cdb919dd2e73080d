"""Line numbers of the topology file's fields, to point findings at what to edit."""

from __future__ import annotations

from pathlib import Path

import yaml


def field_lines(file: Path) -> dict[str, int]:
    """``functions.f.permissions[0]`` -> 1-based line of that field in ``file``."""
    try:
        root = yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return {}
    lines: dict[str, int] = {}
    stack: list[tuple[str, yaml.Node]] = [("", root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = f"{path}.{key.value}" if path else str(key.value)
                lines[sub] = key.start_mark.line + 1
                stack.append((sub, value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = f"{path}[{i}]"
                lines[sub] = item.start_mark.line + 1
                stack.append((sub, item))
    return lines


def nearest(lines: dict[str, int], *paths: str) -> int:
    """The line of the first of ``paths`` present (falling back to 1)."""
    return next((lines[p] for p in paths if p in lines), 1)
