"""``edgefer data summary``: counts per split and class of a data set, and what was left out."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgefer.cli._common import fail, print_json
from edgefer.cli.main import app
from edgefer.errors import DataError

data_app = typer.Typer(help="Inspect data sets (FER-2013 CSV or folders, LFW, class folders).",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("summary")
def summary(
    path: Path = typer.Argument(..., help="FER-2013 CSV, or a data-set folder."),
    split: str = typer.Option(None, "--split", help="Only this split (train, publictest, privatetest, all, ...)."),
    format: str = typer.Option(None, "--format", help="fer-csv, fer-folders, folders or lfw (default: detect)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON object."),
) -> None:
    """Count the items per split and class, and the items skipped per reason."""
    from edgefer.data.summary import summarize
    try:
        result = summarize(path, split=split, format=format)
    except FileNotFoundError as exc:
        fail(str(exc), 2)
    except DataError as exc:
        fail(str(exc), 1)
    except ValueError as exc:  # unknown split or format
        fail(str(exc), 2)
    if as_json:
        print_json(result)
    else:
        _print_summary(path, result)


def _print_summary(path: Path, result: dict) -> None:
    from edgefer.labels import CLASSES
    splits = result["splits"]
    table = Table(title=str(path), title_justify="left", min_width=len(str(path)))
    table.add_column("class")
    for name in splits:
        table.add_column(name, justify="right")
    for c in CLASSES:
        table.add_row(c, *(f"{s['per_class'][c]:,}" for s in splits.values()))
    table.add_row("total", *(f"{s['total']:,}" for s in splits.values()), style="bold")
    console = Console()
    console.print(table)
    console.print(f"note: {result['note']}")
    if result["skipped"]:
        skipped = Table(title="skipped (not in the counts above)", title_justify="left")
        skipped.add_column("reason")
        skipped.add_column("items", justify="right")
        for reason, n in result["skipped"].items():
            skipped.add_row(reason, f"{n:,}")
        console.print(skipped)
    else:
        console.print("skipped: none")
