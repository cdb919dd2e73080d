"""Read a topology file, validate it completely, and say what is wrong one line per problem.

Nothing is touched before this returns: the shape is checked by the pydantic schema,
then cross-references by :func:`eda_sandbox.topology.checks.cross_check`. Every problem
reads ``<file>: <path>: <problem>``.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from eda_sandbox.errors import TopologyValidationError
from eda_sandbox.topology.checks import cross_check
from eda_sandbox.topology.schema import Topology


class InvalidTopologyError(TopologyValidationError):
    """A topology file with one or more problems; ``problems`` holds one line each."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class LoadedTopology:
    topology: Topology
    file: Path
    base_dir: Path


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of duplicate keys silently; a topology must not."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def format_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that the value at ``loc`` must be, to list its known fields."""
    current: Any = Topology
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif origin in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _describe(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def translate(error: ErrorDetails) -> str:
    """One pydantic error as ``<path>: <problem>``."""
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent, name = loc[:-1], str(loc[-1])
        model = _model_at(parent)
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{format_path(parent)}: field {name!r} is not allowed{hint}"
    if kind == "missing":
        return f"{format_path(loc[:-1])}: field {loc[-1]!r} is required"
    path = format_path(loc)
    if kind in ("value_error", "assertion_error"):
        message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"{path}: {message}"
    if kind == "literal_error":
        return f"{path}: {value!r} is not one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch" and loc == ("project",):
        return (
            f"project: {value!r} must be lowercase letters, digits and '-', "
            "start with a letter and have at most 40 characters"
        )
    if kind == "too_short":
        return f"{path}: must not be empty"
    if kind == "too_long":
        return f"{path}: has more than {ctx.get('max_length')} items"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{path}: expected a mapping, got {_describe(value)}"
    if kind == "list_type":
        return f"{path}: expected a list, got {_describe(value)}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{path}: expected a whole number, got {value!r}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{path}: expected true or false, got {value!r}"
    if kind == "string_type":
        return f"{path}: expected a string, got {_describe(value)}"
    message = str(error["msg"])
    return f"{path}: {message[:1].lower()}{message[1:]} (got {value!r})"


def load_topology(
    file: Path, *, base_dir: Path | None = None, check_code: bool = True
) -> LoadedTopology:
    """Parse and fully validate ``file``; raise :class:`InvalidTopologyError` listing all problems.

    ``base_dir`` overrides the file's own ``base_dir`` (tests point code at stub handlers).
    """
    name = display_name(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidTopologyError(name, [f"{name}: cannot be read: {e.strerror}"]) from e
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise InvalidTopologyError(name, [f"{name}{where}: YAML syntax error: {problem}"]) from e
    if not isinstance(raw, dict):
        problem = "is empty" if raw is None else f"must be a mapping, not {_describe(raw)}"
        raise InvalidTopologyError(name, [f"{name}: {problem}"])
    try:
        topology = Topology.model_validate(raw)
    except ValidationError as e:
        problems = list(dict.fromkeys(f"{name}: {translate(err)}" for err in e.errors()))
        raise InvalidTopologyError(name, problems) from e
    root = base_dir if base_dir is not None else (file.parent / topology.base_dir)
    root = root.resolve()
    problems = [f"{name}: {path}: {msg}" for path, msg in cross_check(topology, root, check_code)]
    if problems:
        raise InvalidTopologyError(name, problems)
    return LoadedTopology(topology=topology, file=file.resolve(), base_dir=root)
