"""``edgefer models``: registered architectures and shipped weights."""
from __future__ import annotations

import typer

from edgefer.cli._common import print_json
from edgefer.cli.main import app


@app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List registered model architectures and the models shipped with trained weights."""
    from edgefer.models import create_model, list_models
    from edgefer.classifiers import load_classifier
    from edgefer.recognize import DEFAULT_MODEL, shipped_models, shipped_path

    arch = {}
    for name in list_models():
        m = create_model(name)
        arch[name] = {"input_size": getattr(m, "input_size", None),
                      "parameters": sum(p.numel() for p in m.parameters()),
                      "doc": (m.__class__.__doc__ or "").strip().splitlines()[0]}
    shipped = {}
    for name in shipped_models():
        info = load_classifier(shipped_path(name)).info
        arch_of = [m["name"] for m in info.get("members", [info])]
        shipped[name] = {"kind": info["kind"], "architecture": "+".join(arch_of), "default": name == DEFAULT_MODEL,
                         "scores": info.get("scores", {}), "preprocess": info["preprocess"]}
    if as_json:
        print_json({"architectures": arch, "shipped": shipped})
        return
    typer.echo("architectures (edgefer train --model NAME):")
    for name, a in arch.items():
        typer.echo(f"  {name:14s} input {a['input_size']}x{a['input_size']}, {a['parameters']:,} parameters")
    typer.echo("shipped models (edgefer predict --model NAME):")
    for name, s in shipped.items() or {}.items():
        mark = " (default)" if s["default"] else ""
        typer.echo(f"  {name:20s} {s['kind']:8s} {s['architecture']}{mark}, scores {s['scores']}")
    if not shipped:
        typer.echo("  none")
