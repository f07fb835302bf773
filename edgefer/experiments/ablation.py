"""Ablation of the paper's design choices on FER-2013, one change at a time from the base network.

Base: the budget's edge CNN (``edgecnn48`` at the reduced budget, ``edgecnn`` at 96x96 at the
full one) with Kirsch edges fused into every feature map, cross-entropy, histogram
equalization and 2x2 max pooling. Each variant changes one thing:

==============  ====================================================================
fusion          ``none`` (plain CNN) and ``input`` (edges of the input only) vs ``feature``
loss            the paper's MSE between softmax and one-hot targets vs cross-entropy
input size      the other of 48x48 / 96x96
equalization    without histogram equalization
pooling         strided 5x5 convolutions instead of max pooling (training time)
==============  ====================================================================

Every run trains on the same Training chooses its epoch on PublicTest and is scored
once on PrivateTest. Time per training batch is also measured under controlled conditions
(:func:`edgefer.bench.model_speed`), since wall time shares the machine with other work.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

from edgefer.experiments._common import (
    budget_for, main_loss, fer_parts, load_fer, model_input_size, pixels_for, rel, run_dir,
    train_and_test, train_config, twin_mask, write_result,
)

log = logging.getLogger(__name__)

NAME = "ablation"


class Claim(NamedTuple):
    """One of the paper's claims the ablation tests: REPORT.md compares run ``a`` with run ``b``
    (``base``, a variant's name, or an alias the report resolves: ``equalized`` is the base,
    ``input_96``/``input_48`` is the base where the budget's edge CNN has that size), and the
    verdict needs the base's runs and those of ``needs`` (whichever of the names the budget has)."""
    cid: str
    claim: str
    paper: str
    a: str
    b: str
    needs: tuple[str, ...]


CLAIMS = (
    Claim("C9", "Superimposing Kirsch edges on every feature map improves accuracy", "the method's core",
          "base", "fusion_none", ("fusion_none",)),
    Claim("C10", "The paper's MSE loss is at least as good as cross-entropy", "the paper's choice",
          "loss_mse", "base", ("loss_ce", "loss_mse")),
    Claim("C11", "96x96 input is more accurate than FER-2013's native 48x48", "the paper's choice",
          "input_96", "input_48", ("input_96", "input_48")),
    Claim("C12", "Histogram equalization improves accuracy", "the paper's preprocessing",
          "equalized", "no_equalize", ("no_equalize",)),
    Claim("C13", "Max pooling speeds up training (here against strided convolutions)", "the paper's argument",
          "base", "pool_stride", ("pool_stride",)),
)
"""The ablation's claims, for REPORT.md (what it compares) and the units (which runs it needs)."""


def variants(budget) -> list[dict]:
    """The runs: name, group, model, model kwargs, loss, equalization."""
    base = budget.edge_model
    other = "edgecnn48" if base == "edgecnn" else "edgecnn"
    size, other_size = model_input_size(base), model_input_size(other)
    loss = main_loss(budget)
    other_loss = "ce" if loss == "mse" else "mse"
    words = {"mse": "MSE between softmax and one-hot (the paper's loss)", "ce": "cross-entropy"}
    v = lambda name, group, change, **kw: {  # noqa: E731
        "name": name, "group": group, "change": change, "model": kw.get("model", base),
        "model_kwargs": kw.get("model_kwargs", {}), "loss": kw.get("loss", loss),
        "equalize": kw.get("equalize", True)}
    return [
        v("base", "base", f"{base}: {size}x{size}, feature fusion, {words[loss].split(' (')[0]}, equalized, "
          "max pooling"),
        v("fusion_none", "fusion", "no edge fusion (plain CNN)", model_kwargs={"fusion": "none"}),
        v("fusion_input", "fusion", "edges of the input image only", model_kwargs={"fusion": "input"}),
        v(f"loss_{other_loss}", "loss", words[other_loss], loss=other_loss),
        v(f"input_{other_size}", "input_size", f"{other_size}x{other_size} input ({other})", model=other),
        v("no_equalize", "equalize", "no histogram equalization", equalize=False),
        v("pool_stride", "pool", "strided 5x5 convolutions instead of max pooling",
          model_kwargs={"pool": "stride"}),
    ]


def run(budget="reduced", *, data_root=None, out="results", device: str = "cpu", seed: int = 0,
        progress: bool = False) -> dict:
    """Train every variant and write ``out/ablation.json`` and ``ablation.png``."""
    from edgefer.bench import model_speed
    from edgefer.data.load import dataset_root
    from edgefer.evaluate.plots import plot_curves

    b = budget_for(NAME, budget)
    root = Path(data_root) if data_root else dataset_root()
    out = Path(out)
    splits = load_fer(root)
    parts = fer_parts(splits, b, seed=seed, experiment=NAME)
    twins = twin_mask(parts["test"].images, splits["train"].images)
    pixels: dict[tuple, dict] = {}
    runs = {}
    for var in variants(b):
        size = model_input_size(var["model"], **var["model_kwargs"])
        pk = (size, var["equalize"])
        if pk not in pixels:
            pixels[pk] = {role: pixels_for(ds, size, equalize=var["equalize"])[0] for role, ds in parts.items()}
        px = pixels[pk]
        cfg = train_config(b, var["model"], seed=seed, device=device, loss=var["loss"],
                           equalize=var["equalize"], model_kwargs=var["model_kwargs"], input_size=size)
        rec = train_and_test(
            cfg, run_dir(out, b, NAME, var["name"]), (px["train"], parts["train"].labels),
            val=(px["val"], parts["val"].labels), test=(px["test"], parts["test"].labels),
            key={"data": str(root), "subsample_seed": seed}, device=device, test_twins=twins,
            trained_on={"data": str(root), "split": "train", "n": len(parts["train"]), "experiment": NAME},
            progress=progress)
        rec = {k: v for k, v in rec.items() if k != "key"}
        rec["run_dir"] = rel(Path(rec["run_dir"]), out)
        speed = model_speed(var["model"], batch=b.bench_batch, repeats=b.bench_repeats, **var["model_kwargs"])
        runs[var["name"]] = {**var, **rec, "speed": speed}

    base = runs["base"]
    summary = {}
    for name, r in runs.items():
        summary[name] = {
            "group": r["group"], "change": r["change"], "model": r["model"], "model_kwargs": r["model_kwargs"], "loss": r["loss"],
            "equalize": r["equalize"], "input_size": r["input_size"],
            "test_accuracy": r["test"]["accuracy"], "test_macro_f1": r["test"]["macro_f1"],
            "test_accuracy_without_twins": r["test"].get("accuracy_without_twins"),
            "best_val_accuracy": r["best_val_accuracy"],
            "delta_test_accuracy_vs_base": r["test"]["accuracy"] - base["test"]["accuracy"],
            "train_ms_per_batch": r["speed"]["train_ms_per_batch"],
            "infer_ms_per_batch": r["speed"]["infer_ms_per_batch"],
            "wall_seconds_per_iteration": r["wall_seconds_per_iteration"]}
    plots = {"accuracy": f"{NAME}.png"}
    plot_curves({n: (r["val_curve"]["iteration"], r["val_curve"]["accuracy"]) for n, r in runs.items()},
                out / plots["accuracy"], xlabel="iteration (batch 48)", ylabel="validation accuracy (PublicTest)",
                title=f"ablation of {b.edge_model} ({b.name} budget)")
    data = {"root": str(root), "fer2013": str(root / "fer2013"),
            "n": {role: len(ds) for role, ds in parts.items()},
            "test_with_twin_in_training": int(twins.sum())}
    result = {"edge_model": b.edge_model, "training": runs["base"]["config"], "bench_batch": b.bench_batch,
              "split": {"train": "train (Training)", "val": "publictest (every epoch)",
                        "test": "privatetest (once, best epoch by publictest)"},
              "data": data, "summary": summary, "runs": runs, "plots": plots}
    return write_result(out, NAME, result, budget=b, seed=seed, device=device, data=data)
