"""Fig. 6: recognition under a complex background, FER-2013 mixed with LFW news photos.

The mix: FER-2013 face crops (all three splits pooled, at most ``fer_per_class`` per class;
the paper: 3,269) and the LFW photos labelled by ``legend.csv``. LFW photos go through the
whole pipeline (Haar detection of the largest face, crop, bilinear scaling, histogram
equalization; the whole photo when no face is found, counted as ``no_face``). The mix is
split 80/20 into train and test, stratified by class and source (the paper: 28,341 train and
7,542 test of 35,883). Each model is trained for the budget's epochs; after every epoch its
test accuracy is measured overall, per source and per class (recall), with macro-F1.
The curves are test curves, as in the paper's figure: no model selection is made on them,
and the numbers reported are the last epoch's.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgefer.experiments import fig5
from edgefer.experiments._common import (
    budget_for, cap_per_class, load_fer, lfw_root, model_input_size, pixels_for, rel, reuse, run_dir,
    stratified_subsample, subset, test_report, train_config, write_result,
)
from edgefer.labels import CLASSES

log = logging.getLogger(__name__)

NAME = "fig6"
TEST_FRACTION = 0.2
SOURCES = ("fer2013", "lfw")


@dataclass
class Mix:
    """The FER-2013 + LFW mix: items are the FER part then the LFW part.

    Attributes
    ----------
    fer, lfw : the two parts (FaceDataset; LFW photos lazily read, ``needs_detection=True``).
    labels : int64 (N,), class indices.
    source : (N,) ``"fer2013"`` or ``"lfw"``.
    test : bool (N,), the item is in the test split.
    """

    fer: object
    lfw: object
    labels: np.ndarray
    source: np.ndarray
    test: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict:
        """Item counts: total, per split, per source, and per split x source x class."""
        out = {"n_total": len(self), "n_train": int((~self.test).sum()), "n_test": int(self.test.sum()),
               "per_source": {s: int((self.source == s).sum()) for s in SOURCES}, "per_class": {}}
        for split, mask in (("train", ~self.test), ("test", self.test)):
            out["per_class"][split] = {
                s: {c: int((mask & (self.source == s) & (self.labels == i)).sum()) for i, c in enumerate(CLASSES)}
                for s in SOURCES}
        return out


def stratified_split(strata, test_fraction: float = TEST_FRACTION, *, seed: int = 0) -> np.ndarray:
    """Boolean test mask taking ``round(test_fraction * n)`` items of every stratum at random."""
    strata = np.asarray(strata)
    if not 0 < test_fraction < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1); got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(strata), bool)
    for s in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata == s))
        test[idx[:int(round(test_fraction * len(idx)))]] = True
    return test


def build_mix(data_root, budget, *, seed: int = 0) -> Mix:
    """FER-2013 capped per class plus (a stratified sample of) labelled LFW, split 80/20 by class and source."""
    from edgefer.data.load import concat, load_dataset
    b = budget_for(NAME, budget)
    splits = load_fer(data_root)
    fer_all = concat([splits[s] for s in ("train", "publictest", "privatetest")], split="all")
    fer = subset(fer_all, cap_per_class(fer_all.labels, b.fer_per_class, seed=seed))
    lfw_all = load_dataset(lfw_root(data_root))
    lfw = subset(lfw_all, stratified_subsample(lfw_all.labels, b.lfw_n, seed=seed))
    labels = np.concatenate([fer.labels, lfw.labels])
    source = np.array(["fer2013"] * len(fer) + ["lfw"] * len(lfw))
    strata = np.char.add(np.char.add(source, ":"), labels.astype(str))
    return Mix(fer=fer, lfw=lfw, labels=labels, source=source,
               test=stratified_split(strata, TEST_FRACTION, seed=seed))


def mix_pixels(mix: Mix, size: int, *, equalize: bool = True, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Model pixels (N, size, size) of the mix, and how many LFW photos had a Haar face."""
    fer_px, _ = pixels_for(mix.fer, size, equalize=equalize)
    lfw_px, counts = pixels_for(mix.lfw, size, equalize=equalize, progress=progress)
    no_face = int(counts.get("no_face", 0))
    return np.concatenate([fer_px, lfw_px]), {"lfw_photos": len(mix.lfw), "lfw_detected": len(mix.lfw) - no_face,
                                              "lfw_no_face": no_face, "lfw_detection_run": "no_face" in counts}


def _epoch_record(rep: dict, pred: np.ndarray, y: np.ndarray, source: np.ndarray) -> dict:
    from edgefer.evaluate.metrics import classification_report
    rec = {"accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"],
           "per_class_recall": {c: v["recall"] for c, v in rep["per_class"].items()},
           "confusion": rep["confusion"], "per_source": {}}
    for s in SOURCES:
        m = source == s
        if m.any():
            r = classification_report(y[m], pred[m])
            rec["per_source"][s] = {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "n": r["n"],
                                    "per_class_recall": {c: v["recall"] for c, v in r["per_class"].items()}}
    return rec


def train_epochs(cfg, run: Path, train: tuple, test: tuple, test_source: np.ndarray, *, key: dict,
                 device: str = "cpu", progress: bool = False) -> dict:
    """Train epoch by epoch (one ``fit`` call per epoch, resuming), scoring the test set after each.

    The learning-rate schedule spans all epochs (``max_steps`` only stops each call at the
    epoch's end), so the result equals one uninterrupted run. Finished epochs are kept in
    ``epochs.json`` and a finished run in ``result.json``.
    """
    from edgefer.results import write_json
    from edgefer.train.loop import fit
    run = Path(run)
    key = {"config": cfg.to_dict(), "n_train": int(len(train[1])), "n_test": int(len(test[1])), **key}
    found = reuse(run / "result.json", key)
    if found is not None:
        return found
    progress_path = run / "epochs.json"
    epochs = reuse(progress_path, key)
    epochs = [] if epochs is None else epochs["epochs"]
    steps = max(1, len(train[1]) // cfg.batch_size)
    y = np.asarray(test[1])
    for e in range(len(epochs), cfg.epochs):
        t0 = time.time()
        fit(dataclasses.replace(cfg, max_steps=(e + 1) * steps), train[0], train[1], out_dir=run,
            resume=(run / "last.pt").exists(), progress=progress,
            trained_on={"experiment": NAME, "n": int(len(train[1]))})
        seconds = round(time.time() - t0, 2)
        rep = test_report(run / "best.pt", test[0], y, device=device)
        pred = np.asarray(rep.pop("predictions"))
        epochs.append({"epoch": e + 1, "iteration": (e + 1) * steps, "seconds": seconds,
                       **_epoch_record(rep, pred, y, test_source)})
        write_json(progress_path, {"key": key, "epochs": epochs})
        log.info("%s epoch %d: test accuracy %.4f", cfg.model, e + 1, rep["accuracy"])
    record = {"key": key, "model": cfg.model, "input_size": cfg.input_size, "config": cfg.to_dict(),
              "run_dir": str(run), "epochs": epochs, "final": epochs[-1] if epochs else None}
    write_json(run / "result.json", record)
    return record


def plot_mix(models: dict[str, dict], edge_model: str, out: Path, budget_name: str) -> dict:
    """Fig. 6's plots in ``out`` from each model's per-epoch scoring of the mix (``epochs``) and its
    last (``final``): test accuracy, accuracy per source, the edge CNN's recall per class, and
    every model's confusion; returns the ``plots`` entry of the result file."""
    from edgefer.evaluate.plots import plot_confusions, plot_curves
    plots = {"accuracy": f"{NAME}.png", "per_source": f"{NAME}_sources.png", "per_class": f"{NAME}_classes.png"}
    ep = lambda r: [e["epoch"] for e in r["epochs"]]  # noqa: E731
    plot_curves({m: (ep(r), [e["accuracy"] for e in r["epochs"]]) for m, r in models.items()},
                out / plots["accuracy"], xlabel="epoch", ylabel="test accuracy (mix)",
                title=f"Fig. 6: FER-2013 + LFW, test accuracy against epochs ({budget_name} budget)")
    plot_curves({f"{m}, {s}": (ep(r), [e["per_source"].get(s, {}).get("accuracy") for e in r["epochs"]])
                 for m, r in models.items() for s in SOURCES},
                out / plots["per_source"], xlabel="epoch", ylabel="test accuracy", title="per source")
    edge = models[edge_model]
    plot_curves({c: (ep(edge), [e["per_class_recall"][c] for e in edge["epochs"]]) for c in CLASSES},
                out / plots["per_class"], xlabel="epoch", ylabel="test recall",
                title=f"{edge_model}: per-class recall on the mix")
    plots["confusion"] = plot_confusions({m: r["final"] for m, r in models.items()}, out, NAME, "the mix's test split")
    return plots


def run(budget="reduced", *, data_root=None, out="results", device: str = "cpu", seed: int = 0,
        progress: bool = False) -> dict:
    """Build the mix, train the three models, write ``out/fig6.json`` and its plots."""
    from edgefer.data.load import dataset_root

    b = budget_for(NAME, budget)
    root = Path(data_root) if data_root else dataset_root()
    out = Path(out)
    mix = build_mix(root, b, seed=seed)
    counts = mix.counts()
    pixels, detection = {}, {}
    models = {}
    tr, te = ~mix.test, mix.test
    for name in fig5.models_for(b):
        size = model_input_size(name)
        if size not in pixels:
            pixels[size], detection[size] = mix_pixels(mix, size, progress=progress)
        px = pixels[size]
        cfg = train_config(b, name, seed=seed, device=device, input_size=size)
        rec = train_epochs(cfg, run_dir(out, b, NAME, name), (px[tr], mix.labels[tr]), (px[te], mix.labels[te]),
                           mix.source[te], key={"data": str(root), "subsample_seed": seed}, device=device,
                           progress=progress)
        rec = {k: v for k, v in rec.items() if k != "key"}
        rec["run_dir"] = rel(Path(rec["run_dir"]), out)
        models[name] = rec

    plots = plot_mix(models, b.edge_model, out, b.name)
    summary = {m: {"test_accuracy": r["final"]["accuracy"], "test_macro_f1": r["final"]["macro_f1"],
                   "test_accuracy_per_source": {s: v["accuracy"] for s, v in r["final"]["per_source"].items()},
                   "test_macro_f1_per_source": {s: v["macro_f1"] for s, v in r["final"]["per_source"].items()},
                   "epochs": r["final"]["epoch"]} for m, r in models.items()}
    data = {"root": str(root), "fer2013": str(root / "fer2013"), "lfw": str(lfw_root(root)),
            "fer_per_class_cap": b.fer_per_class, "lfw_sample": b.lfw_n,
            "lfw_legend_skipped": dict(mix.lfw.skipped), **counts,
            "detection": {str(s): d for s, d in detection.items()}}
    result = {"edge_model": b.edge_model, "training": models[b.edge_model]["config"],
              "split": {"train": f"{1 - TEST_FRACTION:.0%} of the mix", "test": f"{TEST_FRACTION:.0%} of the mix",
                        "stratified_by": "class and source", "seed": seed},
              "data": data, "summary": summary, "models": models, "plots": plots}
    return write_result(out, NAME, result, budget=b, seed=seed, device=device, data=data)
