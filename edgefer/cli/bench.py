"""``edgefer bench``: speed of every model, Kirsch fusion overhead, shipped-model crops/s and fps."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail, print_json
from edgefer.cli.main import app


@app.command()
def bench(
    ctx: typer.Context,
    arch: Optional[list[str]] = typer.Option(None, "--arch", help="Registered architecture(s) to time (default: all)."),
    model_alias: Optional[list[str]] = typer.Option(None, "--model", hidden=True, help="Old name of --arch."),
    precision: str = typer.Option("fp32", "--precision", help="fp32 or bf16 autocast."),
    repeats: int = typer.Option(5, "--repeats", help="Timed repetitions per measurement (median)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: torch's)."),
    shipped: bool = typer.Option(True, "--shipped/--no-shipped", help="Also time the shipped models (the default, the fast and small ones, fernet): crops/s and end-to-end video fps."),
    also: Optional[list[str]] = typer.Option(None, "--also", help="Also time this shipped model (repeatable), e.g. --also fernet-fusion-int8; see `edgefer models`."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the results as JSON to this file."),
) -> None:
    """Time a train step and inference per batch of 48 for each model on this machine."""
    import torch

    from edgefer.bench import run_bench
    from edgefer.models import list_models
    from edgefer.results import provenance, write_json

    from edgefer.cli._options import arch_or_alias

    model = arch_or_alias(ctx, model_alias, arch)
    if threads:
        torch.set_num_threads(threads)
    unknown = [m for m in model or [] if m not in list_models()]
    if unknown:
        fail(f"--arch: unknown architecture(s) {', '.join(unknown)}; available: {', '.join(list_models())}")
    rec, others = None, {}
    if also and not shipped:
        fail("--also times shipped models; it cannot be used with --no-shipped")
    if shipped:
        from edgefer.recognize import DEFAULT_MODEL, ROLES, Recognizer, shipped_models
        names = shipped_models()
        missing = [m for m in also or [] if m not in names]
        if missing:
            fail(f"--also: no shipped model {', '.join(missing)}; shipped: {', '.join(names)}")
        rec = Recognizer() if DEFAULT_MODEL in names else None
        # besides the default: the other models with a role (fast, small), the float checkpoint and those asked for
        wanted = {*ROLES.values(), "fernet", *(also or [])}
        others = {n: Recognizer(n) for n in names if n != DEFAULT_MODEL and n in wanted}
    from edgefer.cpu import heavy_lock
    with heavy_lock("edgefer bench"):  # never time beside a training job
        res = run_bench(model or None, precision=precision, repeats=repeats, recognizer=rec, shipped=others)
    res["provenance"] = provenance()
    if out:
        write_json(out, res)
    if as_json:
        print_json(res)
        return
    typer.echo(f"{'model':14s} {'train ms/48':>12s} {'infer ms/48':>12s} {'train img/s':>12s} {'infer img/s':>12s}")
    for name, r in res["models"].items():
        typer.echo(f"{name:14s} {r['train_ms_per_batch']:12.1f} {r['infer_ms_per_batch']:12.1f} "
                   f"{r['train_img_per_s']:12.1f} {r['infer_img_per_s']:12.1f}")
    typer.echo(f"Kirsch feature-fusion overhead on edgecnn48 train step: {res['kirsch_overhead']:+.1%}")
    if "shipped" in res:
        s = res["shipped"]
        typer.echo(f"shipped {s['model']} (default): {s['crops_per_s']:.0f} face crops/s (batch "
                   f"{s['crops_batch']}), {s['e2e_fps']:.1f} frames/s end to end on 640x480 video")
    for name, s in res.get("shipped_models", {}).items():
        typer.echo(f"shipped {name}: {s['crops_per_s']:.0f} face crops/s (batch {s['crops_batch']}), "
                   f"{s['e2e_fps']:.1f} frames/s end to end on 640x480 video")
