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


KEEP_FREED_MEMORY = ("train", "cv", "experiment", "bench", "evaluate", "predict")
"""The batch commands, which run with :func:`edgefer.cpu.keep_freed_memory` (``bench`` times
training and recognition as the others run them); ``serve`` keeps glibc's defaults."""


@app.callback()
def _main(ctx: typer.Context,
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if ctx.invoked_subcommand in KEEP_FREED_MEMORY:
        from edgefer.cpu import keep_freed_memory
        keep_freed_memory()


def _register() -> None:
    # Each command module adds its commands to `app` on import.
    import importlib
    import pkgutil

    import edgefer.cli as pkg
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("main",) and not mod.name.startswith("_"):
            importlib.import_module(f"edgefer.cli.{mod.name}")


_register()
