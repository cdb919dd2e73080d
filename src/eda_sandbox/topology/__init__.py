"""Topology as data: ``infra/topology.yaml`` validated, packaged and converged.

See :mod:`eda_sandbox.topology.__main__` for the command line.
"""

from eda_sandbox.topology.engine import Engine, Result
from eda_sandbox.topology.loader import InvalidTopologyError, LoadedTopology, load_topology
from eda_sandbox.topology.naming import OWNER_TAG, Names
from eda_sandbox.topology.outputs import Outputs, OutputsError, load_outputs
from eda_sandbox.topology.packaging import Package, Packager
from eda_sandbox.topology.schema import Topology

__all__ = [
    "OWNER_TAG",
    "Engine",
    "InvalidTopologyError",
    "LoadedTopology",
    "Names",
    "Outputs",
    "OutputsError",
    "Package",
    "Packager",
    "Result",
    "Topology",
    "load_outputs",
    "load_topology",
]
