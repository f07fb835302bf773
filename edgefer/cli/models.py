"""``edgefer models``: registered architectures and shipped weights."""
from __future__ import annotations

import typer

from edgefer.cli._common import print_json
from edgefer.cli.main import app


@app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List registered model architectures and the models shipped with trained weights."""
    import torch

    from edgefer.models import create_model, list_models
    from edgefer.classifiers import describe
    from edgefer.recognize import ROLES, shipped_models, shipped_path

    arch = {}
    for name in list_models():
        with torch.device("meta"):  # shapes only: no memory, no initialization
            m = create_model(name)
        arch[name] = {"input_size": getattr(m, "input_size", None),
                      "parameters": sum(p.numel() for p in m.parameters()),
                      "doc": (m.__class__.__doc__ or "").strip().splitlines()[0]}
    shipped = {}
    for name in shipped_models():
        info = describe(shipped_path(name))
        arch_of = [m["name"] for m in info.get("members", [info])]
        shipped[name] = {"kind": info["kind"], "architecture": "+".join(arch_of), "members": len(arch_of),
                         **{role: name == model for role, model in ROLES.items()},
                         "scores": info.get("scores", {}), "preprocess": info["preprocess"]}
    if as_json:
        print_json({"architectures": arch, "shipped": shipped})
        return
    typer.echo("architectures (edgefer train --model NAME):")
    for name, a in arch.items():
        typer.echo(f"  {name:14s} input {a['input_size']}x{a['input_size']}, {a['parameters']:,} parameters")
    typer.echo("shipped models (edgefer predict --model NAME):")
    for name, s in shipped.items():
        mark = next((f" ({role})" for role in ROLES if s[role]), "")
        what = f"{s['members']} models" if s["members"] > 1 else s["architecture"]
        typer.echo(f"  {name + mark:34s} {s['kind']:8s} {what:9s} {_scores(s['scores'])}")
    if not shipped:
        typer.echo("  none")


def _scores(scores: dict) -> str:
    """``val_accuracy 65.67 %, epoch 19``: fractions as percentages, the rest as they are."""
    parts = []
    for key, value in scores.items():
        if isinstance(value, float) and 0 <= value <= 1:
            parts.append(f"{key} {100 * value:.2f} %")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)
