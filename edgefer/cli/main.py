"""The ``edgefer`` command: one typer app, one module per command group."""
from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="edgefer",
    help="Facial expression recognition: find faces, say which of seven expressions each shows; "
         "train, evaluate, cross-validate and benchmark models.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    # Each command module adds its commands to `app` on import.
    import importlib
    import pkgutil

    import edgefer.cli as pkg
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("main",) and not mod.name.startswith("_"):
            importlib.import_module(f"edgefer.cli.{mod.name}")


_register()
