"""The resources a benchmark runs against: the applied reference topology, or a copy of it
under a unique name suffix (an endpoint without our topology, such as a peer emulator,
gets its own copy the same way).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import REPO

from eda_sandbox.config import load_settings
from eda_sandbox.errors import TopologyApplyError
from eda_sandbox.topology import Engine, Outputs, load_outputs, load_topology


def wait_mappings(lambda_client: Any, out: Outputs, timeout: float = 60.0) -> None:
    """A new copy's event source mappings may still be Creating; the clock must not run yet."""
    deadline = time.monotonic() + timeout
    for fn in out["functions"].values():
        while True:
            maps = lambda_client.list_event_source_mappings(FunctionName=fn["name"])
            states = [m["State"] for m in maps["EventSourceMappings"]]
            if all(s == "Enabled" for s in states) or time.monotonic() > deadline:
                break
            time.sleep(0.5)


def copy_engine(
    endpoint: str, region: str, outputs_file: Path | None = None, build_dir: Path | None = None
) -> Engine:
    """An engine for a copy of infra/topology.yaml under a fresh ``-bench-<id>`` suffix.

    ``outputs_file`` None never overwrites the reference topology's outputs.json;
    ``build_dir`` defaults to the settings' packaging cache.
    """
    loaded = load_topology(REPO / "infra" / "topology.yaml")
    constraints = loaded.base_dir / "constraints.txt"
    return Engine(
        loaded,
        endpoint_url=endpoint,
        region=region,
        name_suffix=f"-bench-{uuid.uuid4().hex[:8]}",
        build_dir=build_dir or load_settings().build_dir,
        constraints=constraints if constraints.is_file() else None,
        outputs_file=outputs_file,
    )


def destroy_copy(engine: Engine) -> None:
    """Destroy a copy whatever state it is in; a failure is reported, not raised."""
    print(f"destroying the {engine.suffix} copy ...", file=sys.stderr)
    try:
        engine.destroy()
    except TopologyApplyError as e:
        print(f"could not destroy the {engine.suffix} copy: {e}", file=sys.stderr)
    engine.close()


@contextmanager
def topology(own: bool, outputs: Path | None, endpoint: str, region: str) -> Iterator[Outputs]:
    """The outputs of the topology to benchmark; with ``own``, a fresh copy of
    infra/topology.yaml under a unique suffix, destroyed afterwards whatever happens."""
    if not own:
        yield load_outputs(outputs)
        return
    engine = copy_engine(endpoint, region)
    try:
        print(f"applying a copy of the topology with suffix {engine.suffix} ...", file=sys.stderr)
        result = engine.apply()
        assert result.outputs is not None
        yield result.outputs
    finally:
        destroy_copy(engine)
