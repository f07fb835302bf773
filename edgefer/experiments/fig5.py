"""Fig. 5: recognition accuracy against iterations on FER-2013, the edge CNN against R-CNN and FRR-CNN.

Protocol (FER-2013's standard one): train on Training, score PublicTest after every epoch (the
curve), keep each model's best epoch by PublicTest, and score PrivateTest once with it. Batch 48.
A model *converges* at the first curve point after which its accuracy stays within one point
of its final value. PrivateTest accuracy is also given on the images without an identical
twin in Training (284 of 3,589 have one).

The paper: its method converges after about 10,000 iterations at 85.54%, R-CNN after about
15,000 at 77.78%.
"""
from __future__ import annotations

import logging
from pathlib import Path

from edgefer.experiments._common import (
    budget_for, fer_parts, load_fer, model_input_size, pixels_for, rel, run_dir,
    train_and_test, train_config, twin_mask, write_result,
)

log = logging.getLogger(__name__)

NAME = "fig5"
CONTRAST = ("rcnn", "frrcnn")
"""The paper's contrast models: Faster R-CNN [19] and FRR-CNN [20]."""


def models_for(budget) -> list[str]:
    """The edge CNN of the budget, then the contrast models."""
    return [budget.edge_model, *CONTRAST]


def run(budget="reduced", *, data_root=None, out="results", device: str = "cpu", seed: int = 0,
        progress: bool = False) -> dict:
    """Train the three models on FER-2013 and write ``out/fig5.json``, ``fig5.png`` and confusions.

    Finished models (their ``result.json``) are reused and an interrupted one resumes.
    """
    from edgefer.data.load import dataset_root
    from edgefer.evaluate.plots import plot_confusions, plot_curves

    b = budget_for(NAME, budget)
    root = Path(data_root) if data_root else dataset_root()
    out = Path(out)
    splits = load_fer(root)
    parts = fer_parts(splits, b, seed=seed, experiment=NAME)
    twins = twin_mask(parts["test"].images, splits["train"].images)
    pixels: dict[int, dict] = {}
    models = {}
    for name in models_for(b):
        size = model_input_size(name)
        if size not in pixels:
            pixels[size] = {role: pixels_for(ds, size)[0] for role, ds in parts.items()}
        px = pixels[size]
        cfg = train_config(b, name, seed=seed, device=device, input_size=size)
        rec = train_and_test(
            cfg, run_dir(out, b, NAME, name), (px["train"], parts["train"].labels),
            val=(px["val"], parts["val"].labels), test=(px["test"], parts["test"].labels),
            key={"data": str(root), "subsample_seed": seed}, device=device, test_twins=twins,
            trained_on={"data": str(root), "split": "train", "n": len(parts["train"]), "experiment": NAME},
            progress=progress)
        rec["run_dir"] = rel(Path(rec["run_dir"]), out)
        models[name] = {k: v for k, v in rec.items() if k != "key"}

    plots = {"accuracy": f"{NAME}.png", "train_accuracy": f"{NAME}_train.png"}
    plot_curves({f"{m} (PublicTest)": (r["val_curve"]["iteration"], r["val_curve"]["accuracy"])
                 for m, r in models.items()}, out / plots["accuracy"], xlabel="iteration (batch 48)",
                ylabel="validation accuracy",
                title=f"Fig. 5: accuracy against iterations ({b.name} budget)")
    plot_curves({m: (r["train_curve"]["iteration"], r["train_curve"]["accuracy"]) for m, r in models.items()},
                out / plots["train_accuracy"], xlabel="iteration (batch 48)",
                ylabel="training batch accuracy (moving average)", title=f"training accuracy ({b.name} budget)")
    plots["confusion"] = plot_confusions({m: r["test"] for m, r in models.items()}, out, NAME, "PrivateTest")
    summary = {m: {"test_accuracy": r["test"]["accuracy"],
                   "test_accuracy_without_twins": r["test"].get("accuracy_without_twins"),
                   "test_macro_f1": r["test"]["macro_f1"], "best_val_accuracy": r["best_val_accuracy"],
                   "converged_at_iteration": r["convergence"]["iteration"],
                   "converged_before_end": r["convergence"]["before_end"],
                   "iterations": r["iterations"]} for m, r in models.items()}
    data = {"root": str(root), "fer2013": str(root / "fer2013"),
            "n": {role: len(ds) for role, ds in parts.items()},
            "n_available": {role: len(splits[s]) for role, s in
                            (("train", "train"), ("val", "publictest"), ("test", "privatetest"))},
            "test_with_twin_in_training": int(twins.sum())}
    result = {"edge_model": b.edge_model, "training": models[b.edge_model]["config"], "models_run": list(models),
              "split": {"train": "train (Training)", "val": "publictest (every epoch)",
                        "test": "privatetest (once, best epoch by publictest)"},
              "data": data, "summary": summary, "models": models, "plots": plots}
    return write_result(out, NAME, result, budget=b, seed=seed, device=device, data=data)
