"""``edgefer models``: registered architectures and shipped weights."""
from __future__ import annotations

import typer

from edgefer.cli._common import print_json
from edgefer.cli.main import app


@app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List registered model architectures and the models shipped with trained weights."""
    from edgefer.models import create_model, list_models
    from edgefer.recognize import WEIGHTS_DIR, shipped_models
    from edgefer.train.checkpoint import load_checkpoint

    arch = {}
    for name in list_models():
        m = create_model(name)
        arch[name] = {"input_size": getattr(m, "input_size", None),
                      "parameters": sum(p.numel() for p in m.parameters()),
                      "doc": (m.__class__.__doc__ or "").strip().splitlines()[0]}
    shipped = {}
    for name in shipped_models():
        c = load_checkpoint(WEIGHTS_DIR / f"{name}.pt")
        shipped[name] = {"architecture": c["model_name"], "scores": c.get("scores", {}),
                         "preprocess": c["preprocess"]}
    if as_json:
        print_json({"architectures": arch, "shipped": shipped})
        return
    typer.echo("architectures (edgefer train --model NAME):")
    for name, a in arch.items():
        typer.echo(f"  {name:14s} input {a['input_size']}x{a['input_size']}, {a['parameters']:,} parameters")
    typer.echo("shipped models (edgefer predict --model NAME):")
    for name, s in shipped.items() or {}.items():
        typer.echo(f"  {name:14s} {s['architecture']}, scores {s['scores']}")
    if not shipped:
        typer.echo("  none")
