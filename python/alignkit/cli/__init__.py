"""The `alignkit` command line."""

from alignkit.cli.main import main

__all__ = ["main"]
