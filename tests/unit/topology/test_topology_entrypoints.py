"""Plan-time handler checks: the module and the function exist in the code folder.

Before, such a function passed plan and apply and failed at its first invocation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eda_sandbox.topology.entrypoints import handler_problem
from eda_sandbox.topology.loader import InvalidTopologyError, load_topology


def code(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "handlers" / "fn"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    folder.mkdir(parents=True, exist_ok=True)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        pytest.param({"app.py": "def handler(e, c):\n    pass\n"}, "app.handler", id="def"),
        pytest.param({"app.py": "async def main(e, c):\n    pass\n"}, "app.main", id="async"),
        pytest.param({"app.py": "from x import real as handler\n"}, "app.handler", id="import"),
        pytest.param({"app.py": "handler = make()\n"}, "app.handler", id="assigned"),
        pytest.param(
            {"app.py": "try:\n    import a\nexcept ImportError:\n    def handler(e, c): ...\n"},
            "app.handler",
            id="inside-try",
        ),
        pytest.param({"app.py": "from lib import *\n"}, "app.handler", id="star-import"),
        pytest.param({"pkg/mod.py": "def go(e, c): ...\n"}, "pkg.mod.go", id="nested-module"),
        pytest.param({"pkg/__init__.py": "def go(e, c): ...\n"}, "pkg.go", id="package"),
    ],
)
def test_python_handlers_that_exist_pass(
    tmp_path: Path, files: dict[str, str], handler: str
) -> None:
    assert handler_problem(code(tmp_path, files), "handlers/fn", "python3.13", handler) is None


@pytest.mark.parametrize(
    ("files", "handler", "problem"),
    [
        pytest.param(
            {"main.py": "def handler(e, c): ...\n"},
            "app.handler",
            "handler 'app.handler': no module 'app' in handlers/fn (looked for app.py)",
            id="no-module",
        ),
        pytest.param(
            {"app.py": "def handle(e, c): ...\n"},
            "app.handler",
            "handler 'app.handler': handlers/fn/app.py defines no 'handler'",
            id="no-function",
        ),
        pytest.param(
            {"app.py": "def handler(e, c)\n    pass\n"},
            "app.handler",
            "handler 'app.handler': handlers/fn/app.py line 1: expected ':'; "
            "Lambda could not import it",
            id="syntax-error",
        ),
    ],
)
def test_python_handler_problems_name_file_and_function(
    tmp_path: Path, files: dict[str, str], handler: str, problem: str
) -> None:
    assert handler_problem(code(tmp_path, files), "handlers/fn", "python3.12", handler) == problem


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("index.js", "exports.handler = async (event) => event;\n"),
        ("index.js", "module.exports.handler = function (event) {};\n"),
        ("index.js", "module.exports = { other, handler };\n"),
        ("index.mjs", "export const handler = async (event) => event;\n"),
        ("index.mjs", "export async function handler(event) {}\n"),
        ("index.mjs", "export function handler(event) {}\n"),
        ("index.mjs", "const run = () => 1;\nexport { run as handler };\n"),
    ],
)
def test_node_exports_are_found(tmp_path: Path, name: str, text: str) -> None:
    root = code(tmp_path, {name: text})
    assert handler_problem(root, "handlers/fn", "nodejs22.x", "index.handler") is None


def test_node_problems(tmp_path: Path) -> None:
    root = code(tmp_path, {"index.js": "exports.main = () => 1;\n"})
    assert handler_problem(root, "handlers/fn", "nodejs20.x", "index.handler") == (
        "handler 'index.handler': handlers/fn/index.js exports no 'handler'"
    )
    assert handler_problem(root, "handlers/fn", "nodejs20.x", "app.handler") == (
        "handler 'app.handler': no file app.js, app.mjs or app.cjs in handlers/fn"
    )


def test_plan_refuses_a_function_whose_handler_is_missing(tmp_path: Path) -> None:
    code(tmp_path, {"app.py": "def handle(event, context): ...\n"})
    doc = {
        "project": "demo",
        "functions": {"fn": {"runtime": "python3.13", "code": "handlers/fn"}},
    }
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InvalidTopologyError) as caught:
        load_topology(path, base_dir=tmp_path)
    assert caught.value.problems == [
        f"{path}: functions.fn.handler: handler 'app.handler': "
        "handlers/fn/app.py defines no 'handler'"
    ]


def test_name_suffix_may_start_with_a_dash() -> None:
    from eda_sandbox.cli.arguments import join_dash_values
    from eda_sandbox.topology.__main__ import parser

    p = parser()
    args = p.parse_args(join_dash_values(p, ["plan", "--name-suffix", "-x", "--dry-run"]))
    assert (args.name_suffix, args.dry_run) == ("-x", True)
    # A known option after a value-taking one stays that option (argparse then says the
    # value is missing), as before.
    assert join_dash_values(p, ["plan", "--name-suffix", "--dry-run"]) == [
        "plan",
        "--name-suffix",
        "--dry-run",
    ]
