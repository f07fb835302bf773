"""The paper's protocol (3-fold cross-validation over all FER-2013 images) beside the standard one.

* **Paper's protocol**: pool Training, PublicTest and PrivateTest, cut three class-stratified
  folds that keep identical twins (FER-2013 holds 1,523 groups of exact duplicates) in one
  fold, train on two and test the third's images with the last epoch's model; mean and
  standard deviation over the folds (:func:`edgefer.evaluate.cv.cross_validate`).
* **Standard protocol**: train on Training (as many images as a fold trains on, at the
  reduced budget), choose the epoch on PublicTest, report PrivateTest once, also on the
  images without a twin in Training.

The paper: 88.56% average recognition rate (3-fold CV).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from edgefer.experiments._common import (
    budget_for, load_fer, model_input_size, pixels_for, read_iterations, rel, run_dir, stratified_subsample,
    subset, train_and_test, train_config, twin_mask, write_result,
)

log = logging.getLogger(__name__)

NAME = "cv"
FOLDS = 3


def _check_key(folder: Path, key: dict) -> None:
    """Refuse to mix fold results made with other settings into this run."""
    path = folder / "key.json"
    key = json.loads(json.dumps(key, default=str))
    if path.exists():
        if json.loads(path.read_text()) != key:
            raise ValueError(f"{folder}: holds folds made with other settings than this run's; delete it "
                             f"or write to another --out")
        return
    from edgefer.results import write_json
    write_json(path, key)


def fold_summary(labels, images, k: int, seed: int) -> dict:
    """Sizes and class counts of the folds :func:`cross_validate` cuts, and twin groups split across folds."""
    from edgefer.evaluate.cv import stratified_group_folds
    from edgefer.evaluate.evaluate import pixel_hashes
    from edgefer.labels import CLASSES
    hashes = pixel_hashes(images)
    fold = stratified_group_folds(labels, hashes, k, seed=seed)
    folds_of: dict[str, set] = {}
    size: dict[str, int] = {}
    for h, f in zip(hashes, fold):
        folds_of.setdefault(h, set()).add(int(f))
        size[h] = size.get(h, 0) + 1
    groups = [folds_of[h] for h, n in size.items() if n > 1]
    labels = np.asarray(labels)
    return {"sizes": np.bincount(fold, minlength=k).tolist(),
            "per_class": [{c: int(((fold == f) & (labels == i)).sum()) for i, c in enumerate(CLASSES)}
                          for f in range(k)],
            "twin_groups": len(groups), "twin_groups_split_across_folds": sum(len(g) > 1 for g in groups)}


def run(budget="reduced", *, data_root=None, out="results", device: str = "cpu", seed: int = 0,
        progress: bool = False) -> dict:
    """Run both protocols with the budget's edge CNN and write ``out/cv.json`` and its plots."""
    from edgefer.data.load import concat, dataset_root
    from edgefer.evaluate.cv import cross_validate
    from edgefer.evaluate.plots import plot_confusion, plot_curves

    b = budget_for(NAME, budget)
    root = Path(data_root) if data_root else dataset_root()
    out = Path(out)
    splits = load_fer(root)
    pooled_all = concat([splits[s] for s in ("train", "publictest", "privatetest")], split="all")
    pool = subset(pooled_all, stratified_subsample(pooled_all.labels, b.cv_n, seed=seed))
    size = model_input_size(b.edge_model)
    cfg = train_config(b, b.edge_model, seed=seed, device=device, input_size=size)

    # Paper's protocol.
    folds_dir = run_dir(out, b, NAME, "folds")
    _check_key(folds_dir, {"config": cfg.to_dict(), "n": len(pool), "data": str(root), "subsample_seed": seed})
    pool_px, _ = pixels_for(pool, size)
    cvres = cross_validate(cfg, pool, pool_px, k=FOLDS, out_dir=folds_dir, resume=True, progress=progress)
    fold_reports = [json.loads((folds_dir / f"fold{f}" / "result.json").read_text()) for f in range(FOLDS)]
    cvres["confusion"] = np.sum([r["confusion"] for r in fold_reports], axis=0).tolist()
    cvres["folds_detail"] = fold_summary(pool.labels, pool.images, FOLDS, cfg.seed)

    # Standard protocol, as many training images as a fold trains on.
    n_train = b.train_n if b.train_n is not None else len(splits["train"])
    parts = {}
    for role, split, n in (("train", "train", n_train), ("val", "publictest", b.val_n),
                           ("test", "privatetest", b.test_n)):
        ds = splits[split]
        parts[role] = subset(ds, stratified_subsample(ds.labels, n, seed=seed))
    px = {role: pixels_for(ds, size)[0] for role, ds in parts.items()}
    twins = twin_mask(parts["test"].images, splits["train"].images)
    std = train_and_test(
        cfg, run_dir(out, b, NAME, "standard"), (px["train"], parts["train"].labels),
        val=(px["val"], parts["val"].labels), test=(px["test"], parts["test"].labels),
        key={"data": str(root), "subsample_seed": seed}, device=device, test_twins=twins,
        trained_on={"data": str(root), "split": "train", "n": len(parts["train"]), "experiment": NAME},
        progress=progress)
    std = {k: v for k, v in std.items() if k != "key"}
    std["run_dir"] = rel(Path(std["run_dir"]), out)

    plots = {"train_accuracy": f"{NAME}.png", "confusion_cv": f"{NAME}_confusion_folds.png",
             "confusion_standard": f"{NAME}_confusion_standard.png"}
    curves = {}
    for f in range(FOLDS):
        c = read_iterations(folds_dir / f"fold{f}")
        curves[f"fold {f}"] = (c["iteration"], c["accuracy"])
    curves["standard (Training)"] = (std["train_curve"]["iteration"], std["train_curve"]["accuracy"])
    plot_curves(curves, out / plots["train_accuracy"], xlabel="iteration (batch 48)",
                ylabel="training batch accuracy (moving average)",
                title=f"{b.edge_model}: 3-fold CV folds and the standard protocol ({b.name} budget)")
    plot_confusion(cvres["confusion"], out / plots["confusion_cv"],
                   title=f"3-fold CV, held-out folds pooled: accuracy {cvres['accuracy_mean']:.3f}")
    plot_confusion(std["test"]["confusion"], out / plots["confusion_standard"],
                   title=f"standard protocol, PrivateTest: accuracy {std['test']['accuracy']:.3f}")
    data = {"root": str(root), "fer2013": str(root / "fer2013"), "n_pooled": len(pool),
            "n_pooled_available": len(pooled_all), "n": {role: len(ds) for role, ds in parts.items()},
            "test_with_twin_in_training": int(twins.sum())}
    summary = {"cv_accuracy_mean": cvres["accuracy_mean"], "cv_accuracy_std": cvres["accuracy_std"],
               "cv_macro_f1_mean": cvres["macro_f1_mean"],
               "standard_test_accuracy": std["test"]["accuracy"],
               "standard_test_accuracy_without_twins": std["test"].get("accuracy_without_twins"),
               "standard_test_macro_f1": std["test"]["macro_f1"]}
    result = {"edge_model": b.edge_model, "training": std["config"], "folds": FOLDS,
              "split": {"cv": f"{FOLDS} folds over train+publictest+privatetest pooled",
                        "standard": "train -> publictest (epoch choice) -> privatetest"},
              "data": data, "summary": summary, "cv": cvres, "standard": std, "plots": plots}
    return write_result(out, NAME, result, budget=b, seed=seed, device=device, data=data)
