"""The commands, by name. Each module has ``add_parser(sub, name)`` and ``run(args)``."""

from types import ModuleType

from eda_sandbox.cli.commands import dlq, down, logs, runtimes, status, topology, trace, up

COMMANDS: dict[str, ModuleType] = {
    "up": up,
    "down": down,
    "status": status,
    "logs": logs,
    "runtimes": runtimes,
    "topology": topology,
    "trace": trace,
    "dlq": dlq,
}

__all__ = ["COMMANDS"]
