"""Least privilege, checked: each function's AWS calls against the role the topology builds.

``check.check_topology`` is the entry point (``python -m eda_sandbox.topology check-iam``);
it is not re-exported here, because the topology's own validation imports
:mod:`eda_sandbox.iam.actions` and the check imports the topology.
"""

from eda_sandbox.iam.actions import ActionMapping, action_problem, actions_for
from eda_sandbox.iam.report import Finding, Kind, Report, Severity

__all__ = [
    "ActionMapping",
    "Finding",
    "Kind",
    "Report",
    "Severity",
    "action_problem",
    "actions_for",
]
