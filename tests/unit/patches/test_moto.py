"""The moto patch must make moto cheaper without changing a single answer."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).with_name("moto_cases.py")


def _run(mode: str) -> list[object]:
    # boto3 honours AWS_ENDPOINT_URL (exported for `make test`): without this the cases
    # would go to the running sandbox instead of moto's in-process mock.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    done = subprocess.run(
        [sys.executable, str(CASES), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    result: list[object] = json.loads(done.stdout)
    return result


def test_patched_moto_answers_exactly_as_plain_moto() -> None:
    plain, patched = _run("plain"), _run("patched")
    errors = [r for r in plain if isinstance(r, list) and r[:1] == ["error"]]
    # The cases must exercise both outcomes, or the comparison proves little.
    assert len(errors) >= 10
    assert len(plain) - len(errors) >= 20
    assert patched == plain


def test_cached_update_expressions_are_fresh_trees() -> None:
    from eda_sandbox.patches import moto as moto_patch

    parser = importlib.import_module("moto.dynamodb.parsing.expressions").UpdateExpressionParser

    moto_patch.apply()
    moto_patch.apply()  # idempotent
    first = parser.make("SET a = :v")
    second = parser.make("SET a = :v")
    # The validator rewrites the tree it gets: a shared tree would leak one request's
    # values into the next.
    assert first is not second
    assert pickle.dumps(first) == pickle.dumps(second)


def test_action_names_are_cached_per_class_with_the_same_answer() -> None:
    from moto.core import responses, utils
    from moto.logs.responses import LogsResponse

    from eda_sandbox.patches import moto as moto_patch

    plain = utils.method_names_from_class(LogsResponse)
    moto_patch.cache_action_names()
    moto_patch.cache_action_names()  # idempotent: one wrapper, not a chain
    cached = responses.method_names_from_class  # type: ignore[attr-defined]

    assert cached(LogsResponse) == plain
    assert cached(LogsResponse) is cached(LogsResponse)
    assert utils.method_names_from_class is cached
