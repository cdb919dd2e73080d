"""The commands, by name. Each module has ``add_parser(sub, name)`` and ``run(args)``."""

from types import ModuleType

from eda_sandbox.cli.commands import down, logs, runtimes, status, topology, up

COMMANDS: dict[str, ModuleType] = {
    "up": up,
    "down": down,
    "status": status,
    "logs": logs,
    "runtimes": runtimes,
    "topology": topology,
}

__all__ = ["COMMANDS"]
