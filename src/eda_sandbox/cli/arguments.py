"""Option values that start with ``-`` (``--name-suffix -x``, ``--amount -5``).

argparse reads any token that starts with ``-`` and is not a negative number as an
option, so ``--name-suffix -x`` failed with "expected one argument". Writing the value
as ``--name-suffix=-x`` always worked; :func:`join_dash_values` rewrites the argument
list to that form, for tokens that follow an option taking one value and are not
themselves an option of the parser. argparse has no switch for this
(https://github.com/python/cpython/issues/53580).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _options(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """(every option string, those taking exactly one value), subcommands included."""
    known: set[str] = set()
    valued: set[str] = set()
    for action in parser._actions:
        known.update(action.option_strings)
        if action.option_strings and action.nargs is None:
            valued.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub_known, sub_valued = _options(sub)
                known |= sub_known
                valued |= sub_valued
    return known, valued


def join_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--opt -value`` written as ``--opt=-value`` where that is meant."""
    known, valued = _options(parser)
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        word = tokens[i]
        if word == "--":
            out.extend(tokens[i:])
            break
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            word in valued
            and following is not None
            and following.startswith("-")
            and following.split("=", 1)[0] not in known
        ):
            out.append(f"{word}={following}")
            i += 2
            continue
        out.append(word)
        i += 1
    return out
