"""k-fold cross-validation, the paper's protocol: all FER-2013 images, stratified folds.

Identical images (FER-2013 holds 1,523 groups of exact twins) are kept in one fold, so no test
image has a copy in its training folds.
"""
from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from edgefer.data.dataset import FaceDataset
from edgefer.evaluate.evaluate import pixel_hashes
from edgefer.evaluate.metrics import classification_report
from edgefer.labels import NUM_CLASSES

log = logging.getLogger(__name__)


def stratified_group_folds(labels, groups, k: int, *, seed: int = 0) -> np.ndarray:
    """Fold index (N,) for each item: members of a group share a fold, class counts balanced.

    Groups are placed largest first (ties in random order from ``seed``), each into the fold
    that currently holds the fewest items of the group's most common class, then fewest items.
    """
    labels = np.asarray(labels)
    if k < 2:
        raise ValueError(f"`k` must be at least 2; got {k}")
    members: dict = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    rng = np.random.default_rng(seed)
    keys = list(members)
    order = rng.permutation(len(keys))
    keys = sorted((keys[i] for i in order), key=lambda g: -len(members[g]))
    per_class = np.zeros((k, NUM_CLASSES), np.int64)
    fold = np.empty(len(labels), np.int64)
    for g in keys:
        idx = members[g]
        cls = np.bincount(labels[idx], minlength=NUM_CLASSES).argmax()
        f = min(range(k), key=lambda j: (per_class[j, cls], per_class[j].sum()))
        fold[idx] = f
        np.add.at(per_class[f], labels[idx], 1)
    return fold


def cross_validate(cfg, ds: FaceDataset, pixels: np.ndarray, *, k: int = 3,
                   out_dir: str | os.PathLike = "runs/cv", resume: bool = False,
                   progress: bool = False) -> dict:
    """Train ``cfg`` on k-1 folds and test on the held-out one, for each fold; mean and std.

    The model of each fold is its last epoch's (no test-fold model selection). Folds whose
    ``result.json`` exists are reused when ``resume`` is set. Under torchrun the ranks share
    each fold's scoring (``_predict_shared``), every rank returns the same result, and rank 0
    alone writes ``result.json``.
    """
    from edgefer.recognize import Recognizer
    from edgefer.results import write_json
    from edgefer.train.loop import fit, rank_and_world

    out = Path(out_dir)
    folds = stratified_group_folds(ds.labels, pixel_hashes(ds.images), k, seed=cfg.seed)
    results = []
    for f in range(k):
        fdir = out / f"fold{f}"
        done = fdir / "result.json"
        if resume and done.exists():
            results.append(json.loads(done.read_text()))
            continue
        tr, te = folds != f, folds == f
        fit(cfg, pixels[tr], ds.labels[tr], out_dir=fdir, resume=resume and (fdir / "last.pt").exists(),
            progress=progress, trained_on={"protocol": f"{k}-fold cv", "fold": f, "n": int(tr.sum())})
        rank, world = rank_and_world()  # fit joined torchrun's process group, if any
        pred = _predict_shared(Recognizer(fdir / "best.pt"), pixels[te], rank, world)
        rep = classification_report(ds.labels[te], pred)
        rep.update(fold=f, n_train=int(tr.sum()), n_test=int(te.sum()))
        if rank == 0:
            write_json(done, rep)
        results.append(rep)
    accs = np.array([r["accuracy"] for r in results])
    f1s = np.array([r["macro_f1"] for r in results])
    return {"folds": k, "n": len(ds), "accuracy_mean": float(accs.mean()), "accuracy_std": float(accs.std(ddof=1)) if k > 1 else 0.0,
            "macro_f1_mean": float(f1s.mean()), "per_fold": [
                {"fold": r["fold"], "accuracy": r["accuracy"], "macro_f1": r["macro_f1"],
                 "n_train": r["n_train"], "n_test": r["n_test"]} for r in results]}


def _predict_shared(rec, pixels: np.ndarray, rank: int, world: int) -> np.ndarray:
    """Predicted class of each image; under torchrun rank r scores images r, r + world, … and
    the ranks exchange their parts, so each image is scored once and every rank has them all."""
    if world == 1:
        return rec.probabilities(pixels).argmax(1)
    import torch.distributed as dist
    mine = pixels[rank::world]
    part = rec.probabilities(mine).argmax(1) if len(mine) else np.empty(0, np.int64)
    parts = [None] * world
    dist.all_gather_object(parts, part)
    return interleave(parts)


def interleave(parts) -> np.ndarray:
    """Undo the split ``x[r::len(parts)]``: part r's items go back to positions r, r + world, …"""
    world = len(parts)
    out = np.empty(sum(len(p) for p in parts), np.int64)
    for r, p in enumerate(parts):
        out[r::world] = p
    return out
