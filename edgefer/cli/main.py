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


KEEP_FREED_MEMORY = ("train", "cv", "experiment", "units", "bench", "evaluate", "predict")
"""The batch commands, which run with :func:`edgefer.cpu.keep_freed_memory` (``bench`` times
training and recognition as the others run them); ``serve`` keeps glibc's defaults."""


VERSIONS_OF = ("torch", "onnxruntime", "opencv-python-headless", "numpy")
"""The packages whose versions ``edgefer --version`` prints beside its own, for bug reports."""


def version_text() -> str:
    """``edgefer X.Y.Z`` and, on a second line, Python's and :data:`VERSIONS_OF`'s versions,
    read from the installed packages' metadata (nothing heavy is imported)."""
    import platform
    from importlib import metadata

    from edgefer import __version__

    def installed(name: str) -> str:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            return f"{name} not installed"

    parts = [f"python {platform.python_version()}", *map(installed, VERSIONS_OF)]
    return f"edgefer {__version__}\n" + ", ".join(parts)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _main(ctx: typer.Context,
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
          version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print edgefer's version and its main dependencies', "
                                            "then exit.")) -> None:
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
