"""``edgefer evaluate``: accuracy, per-class recall, macro-F1 and a confusion matrix."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail, print_json
from edgefer.cli.main import app


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Data set (FER-2013 folder or CSV, LFW, class folders)."),
    model: Optional[str] = typer.Option(None, "--model", help="Checkpoint path or shipped model name (default: the shipped model)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to evaluate (default: privatetest, or the whole set when it has a single split)."),
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
    split, ds, train = _split_and_train(data, split, fmt, twins=twins)
    exclude = set(pixel_hashes(train.images)) if train is not None else None
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
    over = report["macro_f1_classes"]
    typer.echo(f"{rec.name} on {data} [{split}], {report['n']} images: accuracy {report['accuracy']:.4f}, "
               f"macro-F1 {report['macro_f1']:.4f}"
               + (f" (over the {len(over)} classes present: {', '.join(over)})" if len(over) < 7 else ""))
    if "accuracy_without_twins" in report:
        typer.echo(f"  without Training twins ({report['n_without_twins']} images): "
                   f"{report['accuracy_without_twins']:.4f}")
    for name, m in report["per_class"].items():
        typer.echo(f"  {name:9s} recall {m['recall']:.3f}  (n={m['support']})")
    if out is not None:
        typer.echo(f"wrote {out / 'metrics.json'} and {out / 'confusion.png'}")


def _split_and_train(data: Path, split: str | None, fmt: str | None, *, twins: bool):
    """``(split name, its data set, the train split or None)``: the split asked for, else
    privatetest, else the whole of a single-split set; the train split only where twins are
    looked for (a FER-2013 test split). A bad path or split is a clean exit."""
    from edgefer.data.load import load_splits, select_split
    from edgefer.errors import DataError
    try:
        if split is not None:
            splits = load_splits(data, fmt, split=split)
        else:
            splits = load_splits(data, fmt)
        name, ds = select_split(splits, split, "privatetest", path=data)
        train = None
        if twins and name in ("publictest", "privatetest"):
            train = splits.get("train") or load_splits(data, fmt, split="train").get("train")
    except (FileNotFoundError, DataError, ValueError) as exc:
        fail(str(exc))
    return name, ds, train
