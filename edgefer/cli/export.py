"""``edgefer export``: write a model as ONNX, with its preprocessing in the file's metadata."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail
from edgefer.cli.main import app


@app.command()
def export(
    model: Optional[str] = typer.Option(None, "--model", help="Shipped model name or checkpoint path (default: the shipped model)."),
    fmt: str = typer.Option(..., "--format", help="Export format: onnx."),
    out: Optional[Path] = typer.Option(None, "--out", help="File to write (default: MODEL.onnx in the current folder)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Export MODEL for other runtimes: input (N, 1, S, S) normalized, output probabilities (N, 7)."""
    from edgefer.errors import CheckpointError
    from edgefer.export import export_onnx
    from edgefer.recognize import resolve_model

    if fmt.lower() != "onnx":
        fail(f"--format must be onnx; got {fmt!r}")
    try:
        path = resolve_model(model)
        written = export_onnx(path, out or Path(f"{path.stem}.onnx"), overwrite=overwrite)
    except (FileNotFoundError, FileExistsError, IsADirectoryError, ImportError, ValueError,
            CheckpointError) as exc:
        fail(str(exc))
    typer.echo(f"exported {path} to {written}")
