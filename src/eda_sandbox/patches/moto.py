"""Patches to moto (DynamoDB, and the action lookup of every moto-backed service).

Upstream behaviour changed: none that a client sees; moto's DynamoDB gets cheaper per
request without changing what it answers. Why:

The sandbox's DynamoDB is moto inside LocalStack's one GIL-bound process, and in a
pipeline burst it was about a quarter of that process's CPU, most of it ``UpdateItem``
(py-spy, bench/RESULTS.md). Three costs repeat on every request although their inputs
do not change:

- ``method_names_from_class`` walks the response class with ``inspect.getmembers`` on
  every dispatch, to learn which actions exist;
- ``UpdateExpressionParser.make`` tokenizes and parses the same few expression strings
  again and again (twice per ``UpdateItem``: once to list the placeholders, once to apply);
- the validator ``deepcopy``-s the parsed tree before it rewrites it.

Each is replaced by a cached or cheaper equivalent. Errors are unchanged: a string that
fails to parse raises as before and is not cached.
"""

from __future__ import annotations

import copy
import functools
import importlib
import logging
import pickle
from collections import deque
from typing import Any

from localstack.runtime import hooks

from eda_sandbox.patches.switch import enabled

LOG = logging.getLogger(__name__)

_applied = False


def apply() -> None:
    """Patch moto once per process. Safe to call again."""
    global _applied
    if _applied:
        return
    _applied = True
    cache_action_names()
    _cache_update_expressions()
    _memoize_node_types()
    _cache_condition_lexing()
    _pickle_copies_of_items()
    _remember_structure_checks()
    LOG.debug("eda-sandbox: moto DynamoDB speed-ups applied")


_names_cached = False


def cache_action_names() -> None:
    """For every moto service, not only DynamoDB: LocalStack hands CloudWatch Logs, STS,
    IAM and others to moto, and each dispatch walked the response class with
    ``inspect.getmembers`` (a tenth of a ``PutLogEvents`` in LocalStack, py-spy)."""
    global _names_cached
    if _names_cached:
        return
    _names_cached = True
    from moto.core import responses, utils

    original = utils.method_names_from_class
    by_class: dict[type, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        # Response classes do not gain or lose methods at run time.
        names = by_class.get(clazz)
        if names is None:
            names = by_class[clazz] = original(clazz)
        return names

    utils.method_names_from_class = method_names_from_class
    responses.method_names_from_class = method_names_from_class  # type: ignore[attr-defined]


def _cache_update_expressions() -> None:
    expressions = importlib.import_module("moto.dynamodb.parsing.expressions")
    validators = importlib.import_module("moto.dynamodb.parsing.validators")

    parser = expressions.UpdateExpressionParser
    original_make = parser.make.__func__

    @functools.lru_cache(maxsize=1024)
    def parsed(expression: str) -> bytes:
        # Pickled, so every caller gets its own tree: the validator rewrites the tree it
        # is given, and the callers of ``make`` only read theirs.
        return pickle.dumps(original_make(parser, expression), pickle.HIGHEST_PROTOCOL)

    def make(cls: Any, expression: str) -> Any:
        data = parsed(expression)
        tree = pickle.loads(data)  # noqa: S301 - bytes we pickled above
        # The validator copies the tree it is given; these bytes are that copy's source
        # (nobody changes the tree between ``make`` and the validator), so the copy
        # needs one ``loads`` instead of a ``dumps`` and a ``loads``.
        tree._eda_pickled = data
        return tree

    parser.make = classmethod(make)

    original_init = validators.Validator.__init__

    def init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, _NoCopy(expression), *args, **kwargs)

    validators.Validator.__init__ = init
    # ``deepcopy`` in the validator meets a _NoCopy and copies by pickling, which is
    # several times faster for these plain node trees.


def _memoize_node_types() -> None:
    """Type tests in the validator's tree walks, answered once per node class.

    Every ``UpdateItem`` walks its tree about ten times, and each step asks ``isinstance``
    against abstract base classes, which goes through ``ABCMeta.__instancecheck__``: the
    largest cost left in ``UpdateItem``. For these classes (nothing is registered as a
    virtual subclass) the answer depends on the node's class only, so it is computed once
    per class. Same walk, same order, same results as moto's own methods.
    """
    # Imported as plain modules: moto's parsing package has no type information.
    ast_nodes = importlib.import_module("moto.dynamodb.parsing.ast_nodes")

    node_class = ast_nodes.Node
    is_node: dict[type, bool] = {}
    recurse_into = (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction)
    has_clauses: dict[type, bool] = {}
    processor_key: dict[tuple[type, type], type | None] = {}

    def key_for(traverser: Any, cls: type) -> type | None:
        pair = (type(traverser), cls)
        try:
            return processor_key[pair]
        except KeyError:
            # The first matching key wins, as in moto's ``process``.
            found = next((k for k in traverser._processing_map() if issubclass(cls, k)), None)
            processor_key[pair] = found
            return found

    def process(self: Any, node: Any) -> Any:
        key = key_for(self, type(node))
        return None if key is None else self._processing_map()[key](node)

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        cls = type(node)
        node_like = is_node.get(cls)
        if node_like is None:
            node_like = is_node[cls] = issubclass(cls, node_class)
        if node_like:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            if key_for(self, cls) is not None:
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses: list[Any] = []
        for child in self.children or []:
            cls = type(child)
            if cls in clause_types:
                clauses.append(child)
                continue
            recurse = has_clauses.get(cls)
            if recurse is None:
                recurse = has_clauses[cls] = issubclass(cls, recurse_into)
            if recurse:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    traverser = ast_nodes.DepthFirstTraverser
    traverser.process = process
    traverser.traverse_node_recursively = traverse_node_recursively
    node_class.find_clauses = find_clauses


class _NoCopy:
    """Wraps a tree so that the validator's ``deepcopy`` becomes a pickle round trip."""

    __slots__ = ("tree",)

    def __init__(self, tree: Any) -> None:
        self.tree = tree

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        data = getattr(self.tree, "_eda_pickled", None)
        if data is None:
            data = pickle.dumps(self.tree, pickle.HIGHEST_PROTOCOL)
        # The cached bytes were pickled before ``make`` added the attribute, so the
        # copy never carries it.
        return pickle.loads(data)  # noqa: S301 - bytes pickled in this process


def _cache_condition_lexing() -> None:
    """Condition expressions are tokenized with a dozen regular expressions, token by
    token, on every conditional request, though the same few strings recur (Powertools'
    idempotency writes send one on every record). Tokens depend on the string only; each
    call still gets new token tuples and new ``children`` lists, as the parser's later
    stages may build on them."""
    comparisons = importlib.import_module("moto.dynamodb.comparisons")
    parser = comparisons.ConditionExpressionParser
    original = parser._lex_condition_expression
    node = parser.Node

    @functools.lru_cache(maxsize=1024)
    def tokens(expression: str) -> tuple[tuple[Any, Any, Any, Any], ...]:
        lexer = parser.__new__(parser)
        lexer.condition_expression = expression
        return tuple((n.nonterminal, n.kind, n.text, n.value) for n in original(lexer))

    def lex(self: Any) -> Any:
        return deque(node(a, b, c, d, []) for a, b, c, d in tokens(self.condition_expression))

    parser._lex_condition_expression = lex


def _pickle_copies_of_items() -> None:
    """``UpdateItem`` keeps a ``deepcopy`` of the item it changes (for ``ReturnValues``
    and rollback); for moto's plain item classes a pickle round trip builds the same
    copy several times faster. Anything else is still copied by ``deepcopy``."""
    models = importlib.import_module("moto.dynamodb.models")
    item_class = importlib.import_module("moto.dynamodb.models.dynamo_type").Item

    class _Copy:
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if type(value) is item_class and memo is None:
                return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))  # noqa: S301
            return copy.deepcopy(value, memo)

    setattr(models, "copy", _Copy())  # noqa: B010 - the module global moto calls


# Expressions whose structure checks passed, with their names; bounded, cleared when full.
MAX_REMEMBERED_STRUCTURES = 4096


def _remember_structure_checks() -> None:
    """``UpdateItem``'s first three validators, run once per expression, names and key.

    ``ActionCountValidator`` (one SET, one ADD...), ``OverlappingPathsValidator`` (no path
    twice) and ``UpdateHashRangeKeyValidator`` (no key attribute updated) run first, on
    the freshly copied tree, and read nothing but the tree, ``ExpressionAttributeNames``
    and the table's key attributes. The first two visit every update node and search that
    node's whole subtree, so a SET of n attributes costs n squared steps: for the reference
    handlers' nine-attribute SET they were a third of ``UpdateItem`` (cProfile). A tree,
    names and key that passed once pass again, so that is remembered; a failure is never
    remembered, so every failing request raises exactly as before, and the other
    validators (values, the item, types) still run on every request.
    """
    validators = importlib.import_module("moto.dynamodb.parsing.validators")
    structural = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    passed: set[tuple[Any, ...]] = set()
    validator = validators.UpdateExpressionValidator
    original_init = validator.__init__

    def init(
        self: Any, expression: Any, expression_attribute_names: Any, *a: Any, **k: Any
    ) -> None:
        original_init(self, expression, expression_attribute_names, *a, **k)
        # The parse cache's bytes name the tree exactly (``_cache_update_expressions``).
        tree = getattr(expression, "_eda_pickled", None)
        names = tuple(sorted((expression_attribute_names or {}).items()))
        keys = tuple(self.table.table_key_attrs)
        self._eda_structure = (tree, names, keys) if tree is not None else None

    def validate(self: Any) -> Any:
        node, processors = self.node_to_validate, list(self.processors)
        key = getattr(self, "_eda_structure", None)
        checks = [p for p, kind in zip(processors, structural, strict=False) if type(p) is kind]
        if key is not None and len(checks) == len(structural):
            if key not in passed:
                for check in checks:
                    node = check.traverse(node)
                if len(passed) >= MAX_REMEMBERED_STRUCTURES:
                    passed.clear()
                passed.add(key)
            processors = processors[len(structural) :]
        for processor in processors:
            node = processor.traverse(node)
        return node

    validator.__init__ = init
    validator.validate = validate


@hooks.on_infra_start()
def cache_moto_action_names(*_args: Any) -> None:
    if enabled():
        cache_action_names()
