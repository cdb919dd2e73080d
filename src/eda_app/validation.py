"""Check an event with the model of the function that will consume it, before publishing.

The handlers' models (``models.py`` in the function's folder or its layer, standard library
only) are the schema;
loading the consumer's own file means the CLI refuses exactly what that function would
reject, with its message, instead of exiting 0 and leaving the rejection to a DLQ.
Which function consumes what is the topology's wiring, summarised in ``CONSUMERS``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from eda_app.errors import ConsumerModelError, ConsumerRejectedError
from eda_sandbox.errors import TopologyValidationError
from eda_sandbox.topology import load_topology

DEFAULT_TOPOLOGY = Path("infra/topology.yaml")
# (event_type, route) -> the function the topology delivers it to.
CONSUMERS = {
    ("user_signup", "sns"): "user_signup_handler",
    ("order_placed", "sns"): "order_consumer",
    ("order_placed", "fifo"): "order_fifo_consumer",
    ("order_placed", "eventbridge"): "order_placed_handler",
}
# event_type -> the model's parse function for it.
PARSERS = {"user_signup": "parse_signup", "order_placed": "parse_order"}


def _load(path: Path, function: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_eda_model_{function}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConsumerModelError(f"{function}'s model {path} does not exist")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is created.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise ConsumerModelError(f"{function}'s model {path} cannot be loaded: {e}") from e
    finally:
        sys.modules.pop(spec.name, None)
    return module


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def model_file(function: str, topology_file: Path = DEFAULT_TOPOLOGY) -> Path:
    """The function's ``models.py``: in its code folder, or in one of its layers'
    ``python/`` folders (where the reference handlers share it), as the topology says."""
    try:
        loaded = load_topology(topology_file, check_code=False)
    except TopologyValidationError as e:
        raise ConsumerModelError(f"cannot read the consumers from {topology_file}: {e}") from e
    declared = loaded.topology.functions.get(function)
    if declared is None:
        raise ConsumerModelError(f"{topology_file} declares no function {function!r}")
    code = loaded.base_dir / declared.code
    candidates = [code / "models.py"]
    for name in declared.layers:
        layer = loaded.topology.layers.get(name)
        if layer is not None:
            candidates += sorted((loaded.base_dir / layer.code / "python").rglob("models.py"))
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise ConsumerModelError(f"no models.py for {function} in {code} or its layers")
    return found


def validate(
    event: dict[str, Any], route: str, topology_file: Path = DEFAULT_TOPOLOGY
) -> str | None:
    """Parse ``event`` with its consumer's model; returns the consumer's name, or None
    when no function consumes that event type on that route (nothing to check against).

    Raises :class:`ConsumerRejectedError` with the model's own reason when it refuses.
    """
    event_type = str(event.get("event_type"))
    function = CONSUMERS.get((event_type, route))
    if function is None:
        return None
    path = model_file(function, topology_file)
    module = _load(path, function)
    rejected = getattr(module, "InvalidEvent", None)
    parse = getattr(module, PARSERS[event_type], None)
    if parse is None or not isinstance(rejected, type) or not issubclass(rejected, Exception):
        raise ConsumerModelError(f"{path} has no {PARSERS[event_type]} and InvalidEvent")
    try:
        parse(event)
    except rejected as e:
        field = str(getattr(e, "field", "event"))
        problem = f"is {getattr(e, 'value', '?')!r}: {getattr(e, 'problem', e)}"
        raise ConsumerRejectedError(function, _shown(path), field, problem) from e
    return function
