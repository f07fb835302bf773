"""``edgefer experiment NAME`` (the paper's experiments) and ``edgefer report`` (REPORT.md from their results)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail, print_json
from edgefer.cli.main import app


@app.command()
def experiment(
    name: str = typer.Argument(..., help="fig5, table1, cv, fig6, ablation, or all (in that order)."),
    budget: str = typer.Option("reduced", "--budget", help="smoke (plumbing check), reduced (~2 h each on a "
                               "2-core CPU) or full (the paper's: batch 48, 50 epochs; GPU)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder holding fer2013/ and lfw/ "
                                             "(default: $EDGEFER_DATASETS, else ../shared/datasets)."),
    out: Path = typer.Option(Path("results"), "--out", help="Folder for <name>.json, plots and runs/."),
    seed: int = typer.Option(0, "--seed"),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: torch's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result summary as JSON."),
) -> None:
    """Run one of the paper's experiments; rerun the same command to continue an interrupted one."""
    import torch

    from edgefer.errors import DataError
    from edgefer.experiments import BUDGET_NAMES, EXPERIMENTS, run_experiment

    names = list(EXPERIMENTS) if name == "all" else [name]
    if names[0] not in EXPERIMENTS:
        fail(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}, all")
    if budget not in BUDGET_NAMES:
        fail(f"--budget must be one of {', '.join(BUDGET_NAMES)}; got {budget!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        fail("--device cuda: no CUDA device available")
    if data_root is not None and not data_root.is_dir():
        fail(f"--data-root {data_root}: no such folder")
    if threads:
        torch.set_num_threads(threads)
    for n in names:
        try:
            res = run_experiment(n, budget, data_root=data_root, out=out, device=device, seed=seed, progress=True)
        except (FileNotFoundError, DataError, ValueError) as exc:
            fail(f"{n}: {exc}")
        if as_json:
            print_json({"experiment": n, "budget": budget, "summary": res.get("summary"),
                        "result": str(out / f"{n}.json")})
        else:
            typer.echo(f"{n} ({budget} budget): results written to {out / (n + '.json')}")


@app.command()
def report(
    results: Path = typer.Option(Path("results"), "--results", help="Folder of the experiments' result JSON."),
    out: Path = typer.Option(Path("REPORT.md"), "--out", help="Markdown file to write."),
) -> None:
    """Write REPORT.md from the experiments' results: claims table, then one section per experiment."""
    from edgefer.experiments import EXPERIMENTS, load_results, write_report

    if results.exists() and not results.is_dir():
        fail(f"--results {results}: not a folder")
    found = load_results(results)
    path = write_report(results, out)
    missing = [n for n in EXPERIMENTS if n not in found]
    typer.echo(f"wrote {path} ({len(found)} of {len(EXPERIMENTS)} experiments"
               + (f"; not run yet: {', '.join(missing)})" if missing else ")"))
