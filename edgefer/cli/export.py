"""``edgefer export``: write a model as ONNX, with its preprocessing in the file's metadata."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail
from edgefer.cli.main import app


@app.command()
def export(
    model: str = typer.Option("fernet", "--model", help="Shipped checkpoint name or .pt checkpoint path."),
    fmt: str = typer.Option(..., "--format", help="Export format: onnx."),
    out: Optional[Path] = typer.Option(None, "--out", help="File to write (default: MODEL.onnx, or MODEL-int8.onnx, in the current folder)."),
    int8: bool = typer.Option(False, "--int8", help="Quantize to int8 (static, per-channel), calibrated on faces of --calibration."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Data set whose training faces calibrate --int8 (default: FER-2013 under $EDGEFER_DATASETS, else ../shared/datasets)."),
    calibration_n: int = typer.Option(512, "--calibration-n", min=1, help="Faces drawn (seed 0) for --int8 calibration."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Export MODEL for other runtimes: input (N, 1, S, S) normalized, output probabilities (N, 7).

    With --int8 the graph is quantized to int8 for ONNX Runtime: several times faster on a CPU,
    and usable as --model FILE.onnx by predict, evaluate and serve.
    """
    import tempfile

    from edgefer.errors import CheckpointError, DataError
    from edgefer.export import export_onnx, quantize_onnx
    from edgefer.recognize import resolve_model

    if fmt.lower() != "onnx":
        fail(f"--format must be onnx; got {fmt!r}")
    try:
        path = resolve_model(model)
        if path.suffix != ".pt":
            raise ValueError(f"{path}: export takes a .pt checkpoint; this is a {path.suffix} model file")
        target = out or Path(f"{path.stem}{'-int8' if int8 else ''}.onnx")
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target}: already exists; pass --overwrite to replace it")
        if not int8:
            written = export_onnx(path, target, overwrite=overwrite)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                fp32 = export_onnx(path, Path(tmp) / "fp32.onnx")
                faces = _calibration_faces(fp32, calibration, calibration_n)
                written = quantize_onnx(fp32, target, faces, overwrite=overwrite)
    except (FileNotFoundError, FileExistsError, IsADirectoryError, ImportError, ValueError,
            CheckpointError, DataError) as exc:
        fail(str(exc))
    typer.echo(f"exported {path} to {written}{' (int8)' if int8 else ''}")


def _calibration_faces(onnx_path: Path, data: Optional[Path], n: int):
    """uint8 model pixels of ``n`` training faces of ``data`` (seed 0), prepared as the model wants."""
    import numpy as np

    from edgefer.data.load import dataset_root, load_dataset
    from edgefer.data.pixels import dataset_pixels
    from edgefer.runtime import OnnxClassifier

    spec = OnnxClassifier(onnx_path).spec
    data = data or dataset_root() / "fer2013"
    ds = load_dataset(data, split="train", progress=False)
    if len(ds) == 0:
        raise ValueError(f"{data}: no training faces to calibrate --int8 with")
    idx = np.sort(np.random.default_rng(0).choice(len(ds), size=min(n, len(ds)), replace=False))
    pixels, _ = dataset_pixels(ds.subset(idx), spec)
    return pixels
