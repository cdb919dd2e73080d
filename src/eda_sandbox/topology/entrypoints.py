"""Plan-time check that a function's handler exists in its code folder.

Without it, a handler naming a missing module or function passed plan and apply and failed
only at the first invocation (``Runtime.ImportModuleError`` /
``Runtime.HandlerNotFound``). Python code is read with :mod:`ast`, never imported, so the
check runs nothing of the function's and needs none of its dependencies. Node.js code is
checked by its file and a pattern for the export, which is as far as a Python process can
read JavaScript without a JavaScript parser (the forms Lambda's Node.js runtimes load:
``exports.handler =``, ``module.exports = { handler }``, ``export const handler``,
``export [async] function handler``, ``export { x as handler }``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

NODE_EXTENSIONS = (".js", ".mjs", ".cjs")


def _python_names(body: Iterable[ast.stmt]) -> tuple[set[str], bool]:
    """Top-level names a module defines (also inside top-level if/try blocks), and whether
    it has a star import (then any name may exist)."""
    names: set[str] = set()
    star = False
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                star = star or alias.name == "*"
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.If | ast.Try | ast.With):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                inner, inner_star = _python_names(block)
                names |= inner
                star = star or inner_star
    return names, star


def _python_problem(
    folder: Path, shown: str, module: str, function: str, layers: list[Path]
) -> str | None:
    relative = Path(*module.split("."))
    candidates = [relative.with_suffix(".py"), relative / "__init__.py"]
    # As on AWS's sys.path: the code folder, then each layer's python/ (under /opt).
    roots = [folder, *(layer / "python" for layer in layers)]
    found = next((r / c for r in roots for c in candidates if (r / c).is_file()), None)
    if found is None:
        return f"no module {module!r} in {shown} (looked for {candidates[0]})"
    base = next(r for r in roots if found.is_relative_to(r))
    where = f"{shown}/{found.relative_to(base)}" if base == folder else str(found)
    try:
        tree = ast.parse(found.read_bytes(), filename=str(found))
    except SyntaxError as e:
        return f"{where} line {e.lineno}: {e.msg}; Lambda could not import it"
    names, star = _python_names(tree.body)
    if function in names or star:
        return None
    return f"{where} defines no {function!r}"


_NODE_EXPORT = (
    r"\b(?:module\.)?exports\.{name}\s*=",
    r"\bmodule\.exports\s*=\s*\{{[^}}]*\b{name}\b",
    r"\bexport\s+(?:const|let|var)\s+{name}\b",
    r"\bexport\s+(?:async\s+)?function\s*\*?\s*{name}\s*\(",
    r"\bexport\s*\{{[^}}]*\b{name}\b[^}}]*\}}",
)


def _node_problem(folder: Path, shown: str, module: str, function: str) -> str | None:
    candidates = [folder / f"{module}{ext}" for ext in NODE_EXTENSIONS]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        return f"no file {module}.js, {module}.mjs or {module}.cjs in {shown}"
    text = found.read_text(encoding="utf-8", errors="replace")
    name = re.escape(function)
    if any(re.search(p.format(name=name), text) for p in _NODE_EXPORT):
        return None
    return f"{shown}/{found.name} exports no {function!r}"


def handler_problem(
    root: Path, code: str, runtime: str, handler: str, layers: list[Path] | None = None
) -> str | None:
    """Why ``handler`` (``module.function``) cannot be found in ``root / code`` (or, for
    Python, in the ``layers`` folders), or None. Runtimes other than Python and Node.js
    are not checked.
    """
    module, _, function = handler.rpartition(".")
    folder = root / code
    if runtime.startswith("python"):
        problem = _python_problem(folder, code, module, function, layers or [])
    elif runtime.startswith("nodejs"):
        problem = _node_problem(folder, code, module, function)
    else:
        return None
    return None if problem is None else f"handler {handler!r}: {problem}"
