"""The error a CLI command refuses with (its own module, so what a command uses can raise it
without importing the CLI)."""
from __future__ import annotations


class CommandError(Exception):
    """A command could not do what was asked; the message says why (exit status 1)."""
