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
                               "2-core CPU), full (the paper's: batch 48, 50 epochs; GPU) or paper (the "
                               "paper's, on a CPU, as units: see `edgefer units`)."),
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
    from edgefer.experiments._common import UNIT_BUDGETS

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
    if budget in UNIT_BUDGETS:  # the experiment's units, then its result file from them
        _run_units(budget, out=out, data_root=data_root, device=device, experiments=names, commit=False)
        return
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
    readme: Optional[Path] = typer.Option(None, "--readme", help="Also rewrite the short claims table of this "
                                          "README (between its `<!-- claims:start ... -->` and "
                                          "`<!-- claims:end -->` lines)."),
) -> None:
    """Write REPORT.md from the experiments' results: claims table, then one section per experiment."""
    from edgefer.experiments import EXPERIMENTS, load_results, write_report

    if results.exists() and not results.is_dir():
        fail(f"--results {results}: not a folder")
    found = load_results(results)
    if readme is not None and not readme.is_file():
        fail(f"--readme {readme}: no such file")
    try:
        path = write_report(results, out, readme=readme)
    except ValueError as exc:
        fail(str(exc))
    missing = [n for n in EXPERIMENTS if n not in found]
    typer.echo(f"wrote {path} ({len(found)} of {len(EXPERIMENTS)} experiments"
               + (f"; not run yet: {', '.join(missing)})" if missing else ")"))


def _run_units(budget: str, *, out: Path, data_root, device: str, experiments=None, only=None,
               max_units=None, hours=None, commit: bool = True) -> None:
    from edgefer.errors import DataError
    from edgefer.experiments.units import aggregate, run_units
    try:
        done = run_units(budget, out=out, data_root=data_root, device=device, experiments=experiments, only=only,
                         max_units=max_units, hours=hours, commit=commit, progress=True,
                         announce=lambda text: typer.echo(text, err=True))
        written = aggregate(budget, out=out)
    except (FileNotFoundError, DataError, ValueError, RuntimeError) as exc:
        fail(str(exc))
    typer.echo(f"{len(done)} unit(s) finished; result files written: "
               + (", ".join(str(p) for p in written.values()) or "none yet (units pending)"))


@app.command()
def units(
    budget: str = typer.Option("paper", "--budget", help="paper (the paper's experiments at its own budget) "
                               "or smoke (a plumbing check on a few hundred images)."),
    list_only: bool = typer.Option(False, "--list", help="Print the units in order with their estimate and "
                                   "status (done or pending), and run nothing (times the models once for "
                                   "the plan when there is none)."),
    max_units: Optional[int] = typer.Option(None, "--max-units", help="Stop after this many units."),
    hours: Optional[float] = typer.Option(None, "--hours", help="Start no unit estimated to end past this many "
                                          "hours from now (on this machine; a unit a killed run began "
                                          "counts what is left of it): longer ones are skipped and "
                                          "later, shorter ones still run."),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Run this unit (repeatable)."),
    experiment_name: Optional[list[str]] = typer.Option(None, "--experiment", help="Only units of this "
                                                        "experiment (repeatable): table1, fig5, cv, fig6, ablation."),
    commit: bool = typer.Option(True, "--commit/--no-commit", help="git-commit each finished unit's result "
                                "file (only that file)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder holding fer2013/ and lfw/."),
    out: Path = typer.Option(Path("results"), "--out", help="Results folder: unit files go to <out>/<budget>/, "
                             "checkpoints to <out>/runs/<budget>/units/, experiment files to <out>/."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: torch's)."),
) -> None:
    """Run the paper's experiments at its own budget, one unit (about 2 h at most) at a time.

    Pending units run in order (Table 1, Fig. 5's models, CV folds 2-3, the standard protocol,
    Fig. 6, random-fold CV, ablation seeds), each under the lock of heavy jobs ($EDGEFER_LOCK);
    a killed unit resumes from its checkpoint when run again; each finished unit's result file is
    committed; then the experiments whose units are all done get their result files. Run
    `edgefer report` afterwards.
    """
    import torch

    from edgefer.experiments._common import EXPERIMENTS, UNIT_BUDGETS

    if budget not in (*UNIT_BUDGETS, "smoke"):
        fail(f"--budget must be one of {', '.join((*UNIT_BUDGETS, 'smoke'))}; got {budget!r}")
    bad = [e for e in experiment_name or [] if e not in EXPERIMENTS]
    if bad:
        fail(f"--experiment {', '.join(bad)}: unknown; available: {', '.join(EXPERIMENTS)}")
    if max_units is not None and max_units < 1:
        fail(f"--max-units must be at least 1; got {max_units}")
    if hours is not None and hours <= 0:
        fail(f"--hours must be positive; got {hours}")
    if data_root is not None and not data_root.is_dir():
        fail(f"--data-root {data_root}: no such folder")
    if threads:
        torch.set_num_threads(threads)
    if list_only:
        from edgefer.experiments.units import iterations_done, plan_for, unit_dir
        try:
            plan = plan_for(budget, out=out, data_root=data_root)
        except (FileNotFoundError, ValueError) as exc:
            fail(str(exc))
        typer.echo(f"{budget} budget: edge CNN {plan['edge_model']} ({plan['rule']}); precision {plan['precision']}; "
                   f"plan {unit_dir(out, budget) / 'plan.json'}")
        for u in plan["units"]:
            state = "done" if (unit_dir(out, budget) / f"{u['name']}.json").exists() else "pending"
            begun = iterations_done(out, budget, u["name"]) if state == "pending" else 0
            if begun:
                state += f" ({begun:,} it done; resumes from its checkpoint)"
            typer.echo(f"{u['name']:32s} {u['iterations']:>7,} it  {u['est_minutes']:7.1f} min  {state}")
        typer.echo(f"total {plan['est_total_hours']:.1f} h on {plan['provenance']['machine']['cpu']}")
        return
    _run_units(budget, out=out, data_root=data_root, device=device, experiments=experiment_name, only=only,
               max_units=max_units, hours=hours, commit=commit)
