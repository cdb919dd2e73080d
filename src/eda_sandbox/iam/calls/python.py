"""The boto3 calls in a function's Python code, found through its syntax tree.

A small flow-insensitive evaluation: every name holds the set of values it may have
(a boto3 client of a known service, a resource such as a DynamoDB ``Table``, an
environment variable's value, a string literal, a function of the code itself). A
client passed to a function of the code (``retry_failed_soon(_sqs, ...)``) reaches its
parameters, so calls made through it are found in that function's file and line.
No library does this for boto3 (linters see types, not services); this is why it is
written here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from eda_sandbox.iam.actions import client_methods, service_model
from eda_sandbox.iam.calls.base import (
    EnvValue,
    Found,
    Given,
    LiteralValue,
    Origin,
    SdkCall,
    Unresolved,
)
from eda_sandbox.iam.calls.python_syntax import calls_in, child_bodies, module_name, python_files
from eda_sandbox.iam.calls.python_values import (
    NOTHING,
    Class,
    Client,
    Dynamic,
    Function,
    Instance,
    Meta,
    Module,
    Paginator,
    Qual,
    ServiceResource,
    Session,
    SubResource,
    Value,
    Values,
    resource_model,
    snake,
)
from eda_sandbox.iam.helpers import PYTHON_HELPERS

_RESOURCE_KEYWORD = ("Name", "Url", "Arn", "Bucket", "Id")
_MAX_ROUNDS = 8


class _Analysis:
    def __init__(self, roots: Iterable[Path]) -> None:
        self.modules: dict[str, tuple[Path, ast.Module]] = {}
        self.files: list[Path] = []
        self.unresolved: dict[tuple[Path, int, str], Unresolved] = {}
        for given in roots:
            # A Lambda layer's Python code sits under python/ (on sys.path as /opt/python).
            root = given / "python" if (given / "python").is_dir() else given
            for file in python_files(root):
                self.files.append(file)
                try:
                    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
                except (SyntaxError, UnicodeDecodeError) as e:
                    origin = Origin(file, getattr(e, "lineno", None) or 1)
                    self._unresolved(origin, file.name, f"cannot be parsed: {e}")
                    continue
                self.modules.setdefault(module_name(root, file), (file, tree))
        self.globals: dict[str, dict[str, set[Value]]] = {m: {} for m in self.modules}
        self.attrs: dict[str, dict[str, set[Value]]] = {m: {} for m in self.modules}
        self.functions: dict[tuple[str, str], ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.params: dict[tuple[str, str], dict[str, set[Value]]] = {}
        self.returns: dict[tuple[str, str], set[Value]] = {}
        self.calls: dict[tuple[Path, int, str, str], SdkCall] = {}
        self.changed = False
        self.classes: set[tuple[str, str]] = set()
        for name, (_, tree) in self.modules.items():
            # Methods go by Class.method, so two classes' __init__ stay apart.
            for top in tree.body:
                if isinstance(top, ast.ClassDef):
                    self.classes.add((name, top.name))
                    for inner in top.body:
                        if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                            self.functions[(name, f"{top.name}.{inner.name}")] = inner
            methods = set(self.functions.values())
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node not in methods:
                    self.functions.setdefault((name, node.name), node)

    # --- bookkeeping ---------------------------------------------------------------

    def _unresolved(self, origin: Origin, what: str, reason: str) -> None:
        self.unresolved.setdefault(
            (origin.file, origin.line, what), Unresolved(origin, what, reason)
        )

    def _add(self, table: dict[str, set[Value]], key: str, values: Iterable[Value]) -> None:
        current = table.setdefault(key, set())
        before = len(current)
        current.update(values)
        if len(current) != before:
            self.changed = True

    def _record(
        self, origin: Origin, service: str, op: str, given: Iterable[Given], via: str
    ) -> None:
        key = (origin.file, origin.line, service, op)
        if key not in self.calls:
            self.calls[key] = SdkCall(origin, service, op, tuple(dict.fromkeys(given)), via)

    # --- the walk ------------------------------------------------------------------

    def run(self) -> Found:
        for _ in range(_MAX_ROUNDS):
            self.changed = False
            for name, (file, tree) in self.modules.items():
                self._body(name, file, tree.body, None)
                for (module, fname), fn in self.functions.items():
                    if module == name:
                        self._body(name, file, fn.body, fname)
            if not self.changed:
                break
        return Found(list(self.calls.values()), list(self.unresolved.values()), self.files)

    def _body(self, module: str, file: Path, body: list[ast.stmt], fn: str | None) -> None:
        scope = _Scope(self, module, file, fn)
        for stmt in body:
            scope.statement(stmt)


class _Scope:
    def __init__(self, a: _Analysis, module: str, file: Path, fn: str | None) -> None:
        self.a, self.module, self.file, self.fn = a, module, file, fn
        self.locals: dict[str, set[Value]] = {}
        if fn is not None:
            self.locals.update(a.params.get((module, fn), {}))

    def origin(self, node: ast.AST) -> Origin:
        return Origin(self.file, getattr(node, "lineno", 1))

    # --- names ---------------------------------------------------------------------

    def lookup(self, name: str) -> Values:
        if self.fn is not None and name in self.locals:
            return frozenset(self.locals[name])
        found = self.a.globals[self.module].get(name)
        if found is not None:
            return frozenset(found)
        if (self.module, name) in self.a.functions:
            return frozenset({Function(self.module, name)})
        if (self.module, name) in self.a.classes:
            return frozenset({Class(self.module, name)})
        return NOTHING

    def bind(self, name: str, values: Iterable[Value]) -> None:
        table = self.locals if self.fn is not None else self.a.globals[self.module]
        if self.fn is not None:
            table.setdefault(name, set()).update(values)
        else:
            self.a._add(table, name, values)

    def assign(self, target: ast.expr, values: Values) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, values)
        elif isinstance(target, ast.Attribute):
            # self._sqs = boto3.client("sqs"): kept per attribute name, per module.
            self.a._add(self.a.attrs[self.module], target.attr, values)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.assign(element, values)

    # --- statements ----------------------------------------------------------------

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if isinstance(stmt, ast.ClassDef):
                for inner in stmt.body:
                    if not isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                        self.statement(inner)
            for decorator in stmt.decorator_list:
                self.evaluate(decorator)
            return
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                top = alias.name.split(".")[0]
                local = alias.asname or top
                name = alias.name if alias.asname else top
                self.bind(local, {self._imported(name)})
            return
        if isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            for alias in stmt.names:
                self.bind(alias.asname or alias.name, {self._imported(f"{base}.{alias.name}")})
            return
        for node in calls_in(stmt):
            self.call(node)
        if isinstance(stmt, ast.Assign):
            values = self.evaluate(stmt.value)
            for target in stmt.targets:
                self.assign(target, values)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.assign(stmt.target, self.evaluate(stmt.value))
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, self.evaluate(item.context_expr))
        elif isinstance(stmt, ast.Return) and stmt.value is not None and self.fn is not None:
            returned = self.a.returns.setdefault((self.module, self.fn), set())
            before = len(returned)
            returned.update(self.evaluate(stmt.value))
            self.a.changed |= len(returned) != before
        for child in child_bodies(stmt):
            for inner in child:
                self.statement(inner)

    def _imported(self, dotted: str) -> Value:
        module, _, attr = dotted.rpartition(".")
        if dotted in self.a.modules:
            return Module(dotted)
        if module in self.a.modules and (module, attr) in self.a.functions:
            return Function(module, attr)
        if (module, attr) in self.a.classes:
            return Class(module, attr)
        return Qual(dotted)

    # --- expressions ---------------------------------------------------------------

    def evaluate(self, node: ast.expr) -> Values:
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Constant):
            return frozenset({LiteralValue(node.value)}) if isinstance(node.value, str) else NOTHING
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Subscript):
            base = self.evaluate(node.value)
            key = node.slice
            if Qual("os.environ") in base and isinstance(key, ast.Constant):
                return frozenset({EnvValue(str(key.value))})
            return NOTHING
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Await):
            return self.evaluate(node.value)
        if isinstance(
            node, ast.BoolOp | ast.IfExp | ast.BinOp | ast.JoinedStr | ast.FormattedValue
        ):
            parts: list[ast.expr] = []
            if isinstance(node, ast.BoolOp):
                parts = node.values
            elif isinstance(node, ast.IfExp):
                parts = [node.body, node.orelse]
            elif isinstance(node, ast.BinOp):
                parts = [node.left, node.right]
            elif isinstance(node, ast.JoinedStr):
                parts = node.values
            else:
                parts = [node.value]
            # A value built from an environment variable still names what it names.
            found = set()
            for part in parts:
                found |= {
                    v
                    for v in self.evaluate(part)
                    if not isinstance(v, LiteralValue) or isinstance(node, ast.BoolOp | ast.IfExp)
                }
            return frozenset(found)
        if isinstance(node, ast.Dict):
            return (
                frozenset().union(*(self.evaluate(v) for v in node.values))
                if node.values
                else NOTHING
            )
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return (
                frozenset().union(*(self.evaluate(v) for v in node.elts)) if node.elts else NOTHING
            )
        if isinstance(node, ast.Starred):
            return self.evaluate(node.value)
        return NOTHING

    def _attribute(self, node: ast.Attribute) -> Values:
        out: set[Value] = set()
        for base in self.evaluate(node.value):
            if isinstance(base, Qual):
                out.add(Qual(f"{base.name}.{node.attr}"))
            elif isinstance(base, Module):
                sub = f"{base.name}.{node.attr}"
                if sub in self.a.modules:
                    out.add(Module(sub))
                elif (base.name, node.attr) in self.a.functions:
                    out.add(Function(base.name, node.attr))
                elif (base.name, node.attr) in self.a.classes:
                    out.add(Class(base.name, node.attr))
                else:
                    out |= self.a.globals[base.name].get(node.attr, set())
            elif isinstance(base, ServiceResource | SubResource) and node.attr == "meta":
                out.add(Meta(base.service))
            elif isinstance(base, Meta) and node.attr == "client":
                out.add(Client(base.service))  # table.meta.client: the resource's own client
        if not out and isinstance(node.value, ast.Name):
            out |= self.a.attrs[self.module].get(node.attr, set())
        return frozenset(out)

    def _given(self, node: ast.Call) -> list[Given]:
        given: list[Given] = []
        exprs: list[tuple[str | None, ast.expr]] = [(None, a) for a in node.args]
        exprs += [(k.arg, k.value) for k in node.keywords]
        for keyword, expr in exprs:
            for value in self.evaluate(expr):
                if isinstance(value, EnvValue):
                    given.append(Given(env=value.name))
                elif (
                    isinstance(value, LiteralValue)
                    and keyword
                    and keyword.endswith(_RESOURCE_KEYWORD)
                ):
                    given.append(Given(literal=value.value))
        return given

    def call(self, node: ast.Call) -> Values:
        origin = self.origin(node)
        out: set[Value] = set()
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            for receiver in self.evaluate(node.func.value):
                out |= self._method(receiver, method, node, origin)
        elif isinstance(node.func, ast.Name) and node.func.id == "getattr" and node.args:
            self._getattr(node, origin)
        for callee in self.evaluate(node.func):
            out |= self._callee(callee, node, origin)
        return frozenset(out)

    def _getattr(self, node: ast.Call, origin: Origin) -> None:
        """``getattr(client, name)`` with a computed name: a call the check cannot name."""
        names = self.evaluate(node.args[1]) if len(node.args) > 1 else NOTHING
        if names and all(isinstance(v, LiteralValue) for v in names):
            return
        for receiver in self.evaluate(node.args[0]):
            if isinstance(receiver, Client | ServiceResource | SubResource):
                self.a._unresolved(
                    origin, "getattr(...)", f"a {receiver.service} method chosen at run time"
                )

    def _service_arg(self, node: ast.Call) -> Values:
        args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "service_name"]
        return frozenset().union(*(self.evaluate(a) for a in args)) if args else NOTHING

    def _new(self, kind: str, node: ast.Call, origin: Origin) -> set[Value]:
        services = self._service_arg(node)
        out: set[Value] = set()
        literals = [v for v in services if isinstance(v, LiteralValue)]
        if len(literals) != len(services) or not literals:
            self.a._unresolved(
                origin, f"boto3.{kind}(...)", "the service name is not a string literal"
            )
            return {Dynamic(origin)}
        for lit in literals:
            if service_model(lit.value) is None:
                self.a._unresolved(
                    origin, f"boto3.{kind}({lit.value!r})", "botocore has no such service"
                )
                continue
            out.add(Client(lit.value) if kind == "client" else ServiceResource(lit.value))
        return out

    def _callee(self, callee: Value, node: ast.Call, origin: Origin) -> set[Value]:
        if isinstance(callee, Qual):
            name = callee.name
            if name in ("boto3.client", "boto3.session.Session.client"):
                return self._new("client", node, origin)
            if name in ("boto3.resource",):
                return self._new("resource", node, origin)
            if name in ("boto3.Session", "boto3.session.Session"):
                return {Session()}
            if name in ("os.environ.get", "os.getenv") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    return {EnvValue(first.value)}
            top, _, rest = name.partition(".")
            helper = PYTHON_HELPERS.get((top, rest.rpartition(".")[2] or rest))
            if helper is not None:
                given = self._helper_given(node, helper.keyword, helper.position)
                for op in helper.operations:
                    self.a._record(origin, helper.service, op, given, helper.name)
            return set()
        if isinstance(callee, Function):
            return self._local_call(callee, node)
        if isinstance(callee, Class):
            init = Function(callee.module, f"{callee.name}.__init__")
            if (init.module, init.name) in self.a.functions:
                self._local_call(init, node, bound=True)
            return {Instance(callee.module, callee.name)}
        return set()

    def _helper_given(self, node: ast.Call, keyword: str, position: int | None) -> list[Given]:
        exprs = [k.value for k in node.keywords if k.arg == keyword]
        if position is not None and len(node.args) > position:
            exprs.append(node.args[position])
        given: list[Given] = []
        for expr in exprs:
            for v in self.evaluate(expr):
                if isinstance(v, EnvValue):
                    given.append(Given(env=v.name))
                elif isinstance(v, LiteralValue):
                    given.append(Given(literal=v.value))
        return given

    def _local_call(self, fn: Function, node: ast.Call, bound: bool = False) -> set[Value]:
        """Bind the call's arguments to the parameters (``bound``: skip ``self``)."""
        key = (fn.module, fn.name)
        definition = self.a.functions[key]
        params = self.a.params.setdefault(key, {})
        names = [a.arg for a in definition.args.posonlyargs + definition.args.args]
        names = names[1:] if bound else names
        for name, arg in zip(names, node.args, strict=False):
            self.a._add(params, name, self.evaluate(arg))
        known = names + [a.arg for a in definition.args.kwonlyargs]
        for keyword in node.keywords:
            if keyword.arg in known:
                self.a._add(params, keyword.arg, self.evaluate(keyword.value))
        return set(self.a.returns.get(key, set()))

    def _method(self, receiver: Value, method: str, node: ast.Call, origin: Origin) -> set[Value]:
        if isinstance(receiver, Instance):
            bound = Function(receiver.module, f"{receiver.name}.{method}")
            if (bound.module, bound.name) in self.a.functions:
                return self._local_call(bound, node, bound=True)
            return set()
        if isinstance(receiver, Client):
            ops = client_methods(receiver.service)
            if method in ops:
                self.a._record(
                    origin, receiver.service, ops[method], self._given(node), "boto3 client"
                )
            elif method == "get_paginator" and node.args:
                first = self.evaluate(node.args[0])
                return {
                    Paginator(receiver.service, ops[v.value])
                    for v in first
                    if isinstance(v, LiteralValue) and v.value in ops
                }
            return set()
        if isinstance(receiver, Paginator) and method == "paginate":
            self.a._record(
                origin, receiver.service, receiver.operation, self._given(node), "boto3 paginator"
            )
            return set()
        if isinstance(receiver, Session) and method in ("client", "resource"):
            return self._new(method, node, origin)
        if isinstance(receiver, Dynamic):
            self.a._unresolved(
                origin,
                f".{method}(...)",
                "called on a client whose service is not known "
                f"(created at line {receiver.origin.line})",
            )
            return set()
        if isinstance(receiver, ServiceResource | SubResource):
            return self._resource_method(receiver, method, node, origin)
        return set()

    def _resource_method(
        self, receiver: ServiceResource | SubResource, method: str, node: ast.Call, origin: Origin
    ) -> set[Value]:
        model = resource_model(receiver.service)
        if model is None:
            return set()
        spec = (
            model["service"]
            if isinstance(receiver, ServiceResource)
            else model["resources"].get(receiver.type, {})
        )
        given = list(receiver.given) if isinstance(receiver, SubResource) else []
        for name in spec.get("has", {}):
            if name == method:
                target = spec["has"][name].get("resource", {}).get("type", name)
                return {SubResource(receiver.service, target, tuple(given + self._given(node)))}
        for name, action in spec.get("actions", {}).items():
            if snake(name) == method:
                op = action["request"]["operation"]
                self.a._record(
                    origin, receiver.service, op, given + self._given(node), "boto3 resource"
                )
                return set()
        if receiver.service == "dynamodb" and method == "batch_writer":
            # boto3 adds batch_writer to Table outside the resource model.
            self.a._record(origin, "dynamodb", "BatchWriteItem", given, "boto3 resource")
        return set()


def find_python_calls(roots: Iterable[Path]) -> Found:
    """Every boto3 call (and helper-implied call) in the Python files under ``roots``."""
    return _Analysis(roots).run()
