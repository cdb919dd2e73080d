"""The AWS SDK calls in a function's JavaScript code, found through tree-sitter's syntax tree.

SDK v3: ``new XxxCommand(input)`` from ``@aws-sdk/client-<service>`` (or the document
client's ``PutCommand`` from ``@aws-sdk/lib-dynamodb``), and the aggregated clients'
methods (``new SQS().sendMessage(...)``). SDK v2: ``new AWS.SQS()`` (or
``require("aws-sdk/clients/sqs")``) and its methods, including
``AWS.DynamoDB.DocumentClient``. Services are found in botocore by the SDK's serviceId
naming, so no JavaScript-specific table is kept. Values are tracked per file and
flow-insensitively: ``const queueUrl = process.env.QUEUE_URL`` passes the variable on.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eda_sandbox.iam.actions import service_model, services_by_id
from eda_sandbox.iam.calls.base import (
    EnvValue,
    Found,
    Given,
    LiteralValue,
    Origin,
    SdkCall,
    Unresolved,
)
from eda_sandbox.iam.helpers import NODE_HELPERS

_SUFFIXES = (".js", ".mjs", ".cjs")
_SKIP_DIRS = {"node_modules", "tests", "test", "__tests__", ".venv"}
_V3 = "@aws-sdk/client-"
_DOCUMENT = "@aws-sdk/lib-dynamodb"
_V2 = "aws-sdk"


@dataclass(frozen=True)
class _Import:
    package: str
    name: str  # exported name; "*" for the namespace or default export


@dataclass(frozen=True)
class _Client:
    service: str
    document: bool = False  # DynamoDB document client: put/get/... names


Value = Any


@functools.cache
def _parser() -> Any:
    import tree_sitter_javascript
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_javascript.language()))


def node_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        out += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(_SUFFIXES)]
    return out


def _service(package: str) -> str | None:
    if package.startswith(_V3):
        return services_by_id().get(package.removeprefix(_V3).replace("-", ""))
    if package.startswith(f"{_V2}/clients/"):
        return services_by_id().get(package.rpartition("/")[2].replace("-", "").lower())
    return None


def _operation(service: str, name: str, document: bool = False) -> str | None:
    model = service_model(service)
    if model is None:
        return None
    ops = set(model.operation_names)
    pascal = name[:1].upper() + name[1:]
    # The document client drops the "Item(s)" of DynamoDB's names: Put, BatchGet, TransactWrite.
    candidates = [pascal, f"{pascal}Item", f"{pascal}Items"] if document else [pascal]
    return next((c for c in candidates if c in ops), None)


def _text(node: Any) -> str:
    raw: bytes = node.text
    return raw.decode("utf-8", "replace")


def _string(node: Any) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    if node.type == "template_string" and any(
        c.type == "template_substitution" for c in node.children
    ):
        return None
    return _text(node)[1:-1]


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


class _File:
    def __init__(
        self, file: Path, found: Found, calls: dict[tuple[Path, int, str, str], SdkCall]
    ) -> None:
        self.file = file
        self.found = found
        self.calls = calls
        self.names: dict[str, set[Value]] = {}
        self.tree = _parser().parse(file.read_bytes())

    def origin(self, node: Any) -> Origin:
        return Origin(self.file, node.start_point[0] + 1)

    def bind(self, files: dict[Path, _File]) -> None:
        """Give names their values; arguments to another file's functions reach its params."""
        for node in _walk(self.tree.root_node):
            if node.type == "import_statement":
                self._import(node)
            elif node.type == "variable_declarator":
                self._declarator(node)
            elif node.type == "assignment_expression":
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is not None and left.type == "identifier" and right is not None:
                    self.names.setdefault(_text(left), set()).update(self.evaluate(right))
            elif node.type == "call_expression":
                self._pass_arguments(node, files)

    def _pass_arguments(self, node: Any, files: dict[Path, _File]) -> None:
        # retryFailedSoon(sqs, SOURCE_QUEUE_URL) from './retry_backoff.mjs': its parameters
        # get the values, kept with that file's names (flow-insensitive, like the rest).
        func = node.child_by_field_name("function")
        if func is None or func.type != "identifier":
            return
        for value in self.evaluate(func):
            if not (isinstance(value, _Import) and value.package.startswith(".")):
                continue
            target = files.get((self.file.parent / value.package).resolve())
            if target is None:
                continue
            for param, arg in zip(target.parameters(value.name), self._args(node), strict=False):
                target.names.setdefault(param, set()).update(self.evaluate(arg))

    def parameters(self, function: str) -> list[str]:
        """The parameter names of this file's top-level function ``function``."""
        for node in _walk(self.tree.root_node):
            if node.type == "function_declaration":
                name = node.child_by_field_name("name")
                params = node.child_by_field_name("parameters")
            elif node.type == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                is_arrow = value is not None and value.type in ("arrow_function", "function")
                params = value.child_by_field_name("parameters") if is_arrow else None
            else:
                continue
            if name is not None and params is not None and _text(name) == function:
                return [
                    _text(p.child_by_field_name("left") or p)
                    if p.type != "identifier"
                    else _text(p)
                    for p in params.named_children
                ]
        return []

    def run(self) -> None:
        if self.tree.root_node.has_error:
            self.found.unresolved.append(
                Unresolved(
                    Origin(self.file, 1),
                    self.file.name,
                    "has syntax tree-sitter cannot parse; calls may be missed",
                )
            )
        for node in _walk(self.tree.root_node):
            if node.type == "new_expression":
                self._new(node, record=True)
            elif node.type == "call_expression":
                self._call(node)

    # --- bindings ------------------------------------------------------------------

    def _import(self, node: Any) -> None:
        package = _string(node.child_by_field_name("source"))
        if package is None:
            return
        for clause in (c for c in node.children if c.type == "import_clause"):
            for part in clause.children:
                if part.type == "identifier":
                    self._bind(_text(part), _Import(package, "*"))
                elif part.type == "namespace_import":
                    ident = next((c for c in part.children if c.type == "identifier"), None)
                    if ident is not None:
                        self._bind(_text(ident), _Import(package, "*"))
                elif part.type == "named_imports":
                    for spec in (c for c in part.children if c.type == "import_specifier"):
                        name = spec.child_by_field_name("name")
                        alias = spec.child_by_field_name("alias") or name
                        if name is not None and alias is not None:
                            self._bind(_text(alias), _Import(package, _text(name)))

    def _bind(self, name: str, value: Value) -> None:
        self.names.setdefault(name, set()).add(value)

    def _declarator(self, node: Any) -> None:
        target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if target is None or value is None:
            return
        values = self.evaluate(value)
        if target.type == "identifier":
            self.names.setdefault(_text(target), set()).update(values)
        elif target.type == "object_pattern":
            # const { SQSClient, SendMessageCommand: Send } = require("@aws-sdk/client-sqs")
            packages = [v.package for v in values if isinstance(v, _Import) and v.name == "*"]
            for part in target.children:
                if part.type == "shorthand_property_identifier_pattern":
                    for p in packages:
                        self._bind(_text(part), _Import(p, _text(part)))
                elif part.type == "pair_pattern":
                    key, val = part.child_by_field_name("key"), part.child_by_field_name("value")
                    if key is not None and val is not None and val.type == "identifier":
                        for p in packages:
                            self._bind(_text(val), _Import(p, _text(key)))

    # --- values --------------------------------------------------------------------

    def evaluate(self, node: Any) -> set[Value]:
        kind = node.type
        if kind == "identifier":
            return set(self.names.get(_text(node), set()))
        if kind in ("string", "template_string"):
            text = _string(node)
            if text is not None:
                return {LiteralValue(text)}
            return set().union(
                *(self.evaluate(c) for c in node.children if c.type == "template_substitution")
            )
        if (
            kind == "template_substitution"
            or kind == "parenthesized_expression"
            or kind == "await_expression"
        ):
            return (
                set().union(*(self.evaluate(c) for c in node.named_children))
                if node.named_children
                else set()
            )
        if kind in ("member_expression", "subscript_expression"):
            return self._member(node)
        if kind == "call_expression":
            return self._call(node)
        if kind == "new_expression":
            return self._new(node, record=False)
        if kind in ("binary_expression", "ternary_expression"):
            return set().union(*(self.evaluate(c) for c in node.named_children))
        if kind == "object":
            out: set[Value] = set()
            for pair in node.named_children:
                value = pair.child_by_field_name("value") if pair.type == "pair" else pair
                if value is not None:
                    out |= self.evaluate(value)
            return out
        if kind == "array":
            return (
                set().union(*(self.evaluate(c) for c in node.named_children))
                if node.named_children
                else set()
            )
        return set()

    def _member(self, node: Any) -> set[Value]:
        obj = node.child_by_field_name("object")
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            key = _text(prop) if prop is not None else None
        else:
            key = _string(node.child_by_field_name("index"))
        if obj is None or key is None:
            return set()
        if _text(obj) == "process.env":
            return {EnvValue(key)}
        out: set[Value] = set()
        for base in self.evaluate(obj):
            if isinstance(base, _Import):
                out.add(_Import(base.package, key if base.name == "*" else f"{base.name}.{key}"))
        return out

    def _args(self, node: Any) -> list[Any]:
        args = node.child_by_field_name("arguments")
        return list(args.named_children) if args is not None else []

    def _given(self, args: Iterable[Any]) -> list[Given]:
        given = []
        for arg in args:
            for v in self.evaluate(arg):
                if isinstance(v, EnvValue):
                    given.append(Given(env=v.name))
        return given

    def _record(self, node: Any, service: str, op: str, given: list[Given], via: str) -> None:
        origin = self.origin(node)
        key = (origin.file, origin.line, service, op)
        self.calls.setdefault(key, SdkCall(origin, service, op, tuple(dict.fromkeys(given)), via))

    def _new(self, node: Any, record: bool) -> set[Value]:
        ctor = node.child_by_field_name("constructor")
        if ctor is None:
            return set()
        if ctor.type == "subscript_expression":
            base = ctor.child_by_field_name("object")
            computed = base is not None and any(
                isinstance(v, _Import) and v.package == _V2 for v in self.evaluate(base)
            )
            if computed and record:
                self.found.unresolved.append(
                    Unresolved(self.origin(node), _text(node)[:80], "the service is computed")
                )
            return set()
        out: set[Value] = set()
        for value in self.evaluate(ctor):
            if not isinstance(value, _Import):
                continue
            helper = NODE_HELPERS.get((value.package, value.name))
            if helper is not None and record:
                given = self._option(self._args(node), helper.keyword)
                for op in helper.operations:
                    self._record(node, helper.service, op, given, helper.name)
                continue
            out |= self._constructed(node, value, record)
        return out

    def _option(self, args: list[Any], key: str) -> list[Given]:
        given = []
        for arg in args[:1]:
            if arg.type != "object":
                continue
            for pair in arg.named_children:
                k = pair.child_by_field_name("key") if pair.type == "pair" else None
                v = pair.child_by_field_name("value") if pair.type == "pair" else None
                if k is not None and v is not None and _text(k).strip("'\"") == key:
                    given += self._given([v])
        return given

    def _constructed(self, node: Any, value: _Import, record: bool) -> set[Value]:
        name = value.name
        if value.package == _DOCUMENT and name.endswith("Command"):
            op = _operation("dynamodb", name.removesuffix("Command"), document=True)
            if op is not None and record:
                self._record(
                    node, "dynamodb", op, self._given(self._args(node)), "SDK v3 document command"
                )
            return set()
        service = _service(value.package)
        if value.package.startswith(_V3) and service is not None:
            if name.endswith("Command"):
                op = _operation(service, name.removesuffix("Command"))
                if record and op is not None:
                    self._record(node, service, op, self._given(self._args(node)), "SDK v3 command")
                elif record:
                    self.found.unresolved.append(
                        Unresolved(
                            self.origin(node),
                            name,
                            f"{service} has no operation {name.removesuffix('Command')}",
                        )
                    )
                return set()
            return {_Client(service)}  # XxxClient or the aggregated Xxx client
        if value.package == _V2 or value.package.startswith(f"{_V2}/clients/"):
            parts = name.split(".")
            if service is not None and name == "*":
                return {_Client(service)}
            if parts[-1] == "DocumentClient":
                return {_Client("dynamodb", document=True)}
            found = services_by_id().get(parts[0].lower())
            if found is not None:
                return {_Client(found)}
        return set()

    def _call(self, node: Any) -> set[Value]:
        func = node.child_by_field_name("function")
        if func is None:
            return set()
        if func.type == "identifier" and _text(func) == "require":
            args = self._args(node)
            package = _string(args[0]) if args else None
            return {_Import(package, "*")} if package else set()
        if func.type != "member_expression":
            return set()
        obj, prop = func.child_by_field_name("object"), func.child_by_field_name("property")
        if obj is None or prop is None:
            return set()
        method = _text(prop)
        out: set[Value] = set()
        for receiver in self.evaluate(obj):
            if (
                isinstance(receiver, _Import)
                and method == "from"
                and receiver.name.startswith("DynamoDBDocument")
            ):
                out.add(_Client("dynamodb", document=True))
            elif isinstance(receiver, _Client) and method not in (
                "send",
                "destroy",
                "middlewareStack",
                "promise",
            ):
                op = _operation(receiver.service, method, receiver.document)
                if op is not None:
                    self._record(
                        node,
                        receiver.service,
                        op,
                        self._given(self._args(node)),
                        "SDK client method",
                    )
        return out


def find_node_calls(roots: Iterable[Path]) -> Found:
    """Every AWS SDK call (and helper-implied call) in the JavaScript files under ``roots``."""
    found = Found([], [], [])
    calls: dict[tuple[Path, int, str, str], SdkCall] = {}
    files: dict[Path, _File] = {}
    for root in roots:
        for file in node_files(root):
            found.files.append(file)
            files[file.resolve()] = _File(file, found, calls)
    # Three rounds: a name may be used above the line, or the file, that gives its value.
    for _ in range(3):
        for parsed in files.values():
            parsed.bind(files)
    for parsed in files.values():
        parsed.run()
    found.calls.extend(calls.values())
    return found
