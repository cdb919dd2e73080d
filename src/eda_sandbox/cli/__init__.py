"""``eda-sandbox``, the command line: one module per command in ``commands/``."""

from eda_sandbox.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
