"""Helpers shared by CLI commands: error exit and JSON printing."""
from __future__ import annotations

import json
import sys

import typer


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(obj) -> None:
    """One JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, indent=None, default=_default) + "\n")


def _default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
