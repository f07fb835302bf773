"""``edgefer evaluate``: accuracy, per-class recall, macro-F1 and a confusion matrix."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail, print_json
from edgefer.cli._options import load_split
from edgefer.cli.main import app


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Data set (FER-2013 folder or CSV, LFW, class folders)."),
    model: Optional[str] = typer.Option(None, "--model", help="Checkpoint path or shipped model name (default: the shipped model)."),
    split: str = typer.Option("privatetest", "--split", help="Split to evaluate."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Override format detection."),
    detect: Optional[bool] = typer.Option(None, "--detect/--no-detect", help="Find the largest face first (default: only for whole photos)."),
    detector: str = typer.Option("haar", "--detector", help="Face detector for whole photos: haar (the paper's) or mtcnn."),
    labels: str = typer.Option("dataset", "--labels", help="dataset, or ferplus (FER+ crowd majority)."),
    twins: bool = typer.Option(True, "--twins/--no-twins", help="For FER-2013 test splits, also report accuracy without images that have an identical twin in Training."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for metrics.json and confusion.png."),
) -> None:
    """Evaluate a model on a data set split."""
    from edgefer.errors import CheckpointError
    from edgefer.evaluate.evaluate import evaluate as run, pixel_hashes
    from edgefer.evaluate.plots import plot_confusion
    from edgefer.recognize import Recognizer
    from edgefer.results import provenance, write_json

    try:
        rec = Recognizer(model, detector=detector)
    except (OSError, ValueError, CheckpointError) as exc:  # OSError: missing, a folder, unreadable
        fail(str(exc))
    ds = load_split(data, split, fmt)
    exclude = None
    if twins and split in ("publictest", "privatetest"):
        exclude = set(pixel_hashes(load_split(data, "train", fmt).images))
    try:
        report = run(rec, ds, detect=detect, labels=labels, exclude=exclude, progress=not as_json)
    except ValueError as exc:
        fail(str(exc))
    report["provenance"] = provenance(data=str(data), split=split, detector=getattr(rec.detector, "name", "custom"))
    if out is not None:
        write_json(out / "metrics.json", report)
        plot_confusion(report["confusion"], out / "confusion.png",
                       title=f"{rec.name} on {split} ({report['n']} images)")
    if as_json:
        print_json(report)
        return
    typer.echo(f"{rec.name} on {data} [{split}], {report['n']} images: accuracy {report['accuracy']:.4f}, "
               f"macro-F1 {report['macro_f1']:.4f}")
    if "accuracy_without_twins" in report:
        typer.echo(f"  without Training twins ({report['n_without_twins']} images): "
                   f"{report['accuracy_without_twins']:.4f}")
    for name, m in report["per_class"].items():
        typer.echo(f"  {name:9s} recall {m['recall']:.3f}  (n={m['support']})")
    if out is not None:
        typer.echo(f"wrote {out / 'metrics.json'} and {out / 'confusion.png'}")
