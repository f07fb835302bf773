"""``edgefer models``: the roles (default, fast, small), the shipped models and the architectures."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from edgefer.cli._common import print_json
from edgefer.cli.main import app


@app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List the roles (what each costs and scores), the shipped models and the architectures."""
    import torch

    from edgefer.classifiers import describe
    from edgefer.models import create_model, list_models
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
    chosen, chosen_file = _model_choice()
    roles = {}
    for role, name in ROLES.items():
        path = shipped_path(name)
        if path is None:
            roles[role] = {"model": name, "shipped": False}
            continue
        from_choice = _role_entry(chosen, role)
        roles[role] = {"model": name, "shipped": True, **model_cost(path),
                       "scores": from_choice if from_choice else shipped[name]["scores"],
                       "scores_from": chosen_file if from_choice else f"{path.name} (the model's metadata)"}
    if as_json:
        print_json({"roles": roles, "architectures": arch, "shipped": shipped})
        return
    typer.echo("roles (edgefer predict --model ROLE; Recognizer(ROLE)):")
    for role, r in roles.items():
        if not r["shipped"]:
            typer.echo(f"  {role:8s} {r['model']}: not installed")
            continue
        typer.echo(f"  {role:8s} {r['model']:20s} {r['passes']:5.2f} passes per face  "
                   f"{r['bytes'] / 1e6:5.1f} MB  {_scores(r['scores'])}  [scores: {r['scores_from']}]")
    typer.echo("  (a pass: one face through the plain FERNet, 32-64-128-256 wide; see edgefer/models/cost.py)")
    typer.echo("architectures (edgefer train --arch NAME):")
    for name, a in arch.items():
        typer.echo(f"  {name:14s} input {a['input_size']}x{a['input_size']}, {a['parameters']:,} parameters")
    typer.echo("shipped models (edgefer predict --model NAME):")
    for name, s in shipped.items():
        roles = [role for role in ROLES if s[role]]  # one file may hold two roles (fast and small)
        mark = f" ({', '.join(roles)})" if roles else ""
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


MODEL_CHOICE = Path(__file__).resolve().parents[2] / "results" / "model-choice.json"
"""The scores each role's model was chosen on (written beside the package in a checkout); when
absent, ``edgefer models`` shows the scores in the model files."""


def _model_choice() -> tuple[dict, str]:
    """The content of :data:`MODEL_CHOICE` and how to name it, or ``({}, "")``."""
    try:
        return json.loads(MODEL_CHOICE.read_text(encoding="utf-8")), "results/model-choice.json"
    except (OSError, ValueError):
        return {}, ""


def _role_entry(choice: dict, role: str) -> dict:
    """The numbers :data:`MODEL_CHOICE` gives for ``role`` (under ``roles`` or at the top; its
    ``scores`` if it has them), numbers only; ``{}`` when it says nothing of the role."""
    entry = (choice.get("roles") or {}).get(role, choice.get(role)) if isinstance(choice, dict) else None
    if not isinstance(entry, dict):
        return {}
    entry = entry.get("scores", entry) if isinstance(entry.get("scores"), dict) else entry
    return {k: v for k, v in entry.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def model_cost(path: Path) -> dict:
    """``{"passes": P, "bytes": B}`` of a model file: passes per face over all members and views
    (:func:`edgefer.models.cost.passes`), and bytes on disk with the members'."""
    from edgefer.checkpoint import load_checkpoint
    from edgefer.classifiers import read_manifest
    from edgefer.models.cost import passes
    from edgefer.runtime import read_onnx_metadata

    path = Path(path)
    if path.suffix == ".json":
        manifest = read_manifest(path)
        members = [model_cost(m) for m in manifest["members"]]
        return {"passes": round(sum(m["passes"] for m in members) * len(manifest["tta"]), 2),
                "bytes": path.stat().st_size + sum(m["bytes"] for m in members)}
    if path.suffix == ".onnx":
        meta = read_onnx_metadata(path)
        name, kwargs = meta.get("model_name", "fernet"), json.loads(meta.get("model_kwargs", "{}"))
    else:
        ckpt = load_checkpoint(path)
        name, kwargs = ckpt["model_name"], ckpt["model_kwargs"]
    return {"passes": passes(name, kwargs), "bytes": path.stat().st_size}
