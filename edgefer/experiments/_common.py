"""Budgets, data subsets and the resumable train-then-test step shared by the experiments.

A *budget* fixes how much data and how many epochs an experiment spends:

* ``smoke``: a few dozen steps on a few hundred images, for tests and a quick look that the
  plumbing works; its numbers mean nothing.
* ``reduced``: each experiment within about two hours on a 2-core CPU (stratified subsamples,
  fewer epochs; see :data:`BUDGETS` for the sizes and time estimates).
* ``full``: the paper's setting (batch 48, 50 epochs, all images, the edge CNN at 96x96);
  meant for a GPU.
* ``paper``: the paper's data, epochs and batch on a CPU, cut into *units* of at most about two
  hours each (one model x one fold, or one figure's model), run by
  :mod:`edgefer.experiments.units` one at a time; a constant learning rate, so that a
  convergence point is not an artefact of a decaying schedule; the paper's MSE loss; the edge
  CNN at 96x96 when a unit's training is estimated at <= 100 minutes on the machine at hand,
  else at 48x48 (decided once, in ``plan.json``, and kept for every unit).

Every result JSON records its budget, so a number is never read without its scale.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUDGET_NAMES = ("smoke", "reduced", "full", "paper")
UNIT_BUDGETS = ("paper",)
"""Budgets run as units (:mod:`edgefer.experiments.units`); the others run whole experiments."""
EXPERIMENTS = ("fig5", "table1", "cv", "fig6", "ablation")
ONE_CLASS = 0.95
"""A model that puts at least this share of its held-out predictions in one class never trained."""

PAPER = {
    "source": "H. Zhang, A. Jolfaei, M. Alazab, \"A Face Emotion Recognition Method Using "
              "Convolutional Neural Network and Image Edge Computing\", IEEE Access 7 (2019) "
              "159081-159089, doi:10.1109/ACCESS.2019.2949741",
    "fig5": {"edge_accuracy": 0.8554, "edge_converged_at": 10_000,
             "rcnn_accuracy": 0.7778, "rcnn_converged_at": 15_000, "batch_size": 48},
    "table1": {"train_speedup_vs_contrast": 1.5,
               "note": "abstract: training speed about 1.5 times that of the contrast algorithm; "
                       "the per-batch times of Table 1 are not transcribed here"},
    "cv": {"folds": 3, "accuracy": 0.8856},
    "fig6": {"n_total": 35_883, "n_train": 28_341, "n_test": 7_542, "fer_per_class": 3_269},
}
"""The paper's numbers that the experiments are compared with (only those stated in the paper)."""

MAIN_LOSS = "ce"
"""Loss of the main runs (fig5, cv, fig6): cross-entropy; the ablation measures the paper's MSE."""

DEFAULT_LR = 0.01
MODEL_LR = {"edgecnn": 0.002, "edgecnn48": 0.002, "plaincnn": 0.002}
"""SGD learning rate per model. The paper's network has no batch norm: with the edges fused into
every feature map it diverges at 0.01 (measured, scripts/short_runs.sh) and trains at 0.002, which
all its variants use so that the ablation changes one thing at a time. The contrast models use
:data:`DEFAULT_LR`."""


@dataclass(frozen=True)
class Budget:
    """How much one experiment spends; recorded in every result.

    Attributes
    ----------
    name : ``smoke``, ``reduced`` or ``full`` (or a custom name for tests).
    epochs, batch_size : of every training run.
    train_n : training images, a class-stratified subsample (None: all).
    val_n : validation images (PublicTest) scored after every epoch (None: all).
    test_n : test images (PrivateTest) scored once (None: all).
    edge_model : the paper's network at this budget (``edgecnn`` at 96x96, ``edgecnn48``).
    cv_n : images pooled for cross-validation (None: all of FER-2013).
    fer_per_class : fig6, FER-2013 images kept per class at most.
    lfw_n : fig6, LFW photos kept (class-stratified; None: all).
    bench_batch, bench_repeats : table1 timing batch and repetitions (median).
    checkpoint_every : also checkpoint every N iterations inside an epoch (0: epoch ends).
    est_cpu_minutes : estimated time on a 2-core CPU (None: not estimated; GPU budget).
    note : what was cut, in words.
    loss : the main runs' loss (None: :data:`MAIN_LOSS`); the ablation's loss variant is the other.
    schedule : ``cosine`` or ``constant`` learning rate.
    precision : ``fp32``, or ``auto``: bf16 autocast where this CPU runs it natively
        (:func:`edgefer.cpu.run_precision`; a resumed unit keeps the one it began with).
    train_eval_n, heldout_eval_n : units; fixed class-stratified samples of the training part
        and of the held-out part scored after every ``eval_every`` epochs (the curves); the
        whole held-out part is scored once at the end.
    seeds : units; ablation seeds (each a unit per variant), so that each verdict is a mean +- std.
    edge_minutes_max : units; the edge CNN runs at 96x96 when a fig5 unit of it is estimated at
        no more than this many minutes on the machine at hand, else at 48x48.
    """

    name: str
    epochs: int
    batch_size: int = 48
    train_n: int | None = None
    val_n: int | None = None
    test_n: int | None = None
    edge_model: str = "edgecnn48"
    cv_n: int | None = None
    fer_per_class: int = 3269
    lfw_n: int | None = None
    bench_batch: int = 48
    bench_repeats: int = 20
    checkpoint_every: int = 100
    est_cpu_minutes: float | None = None
    note: str = ""
    loss: str | None = None
    schedule: str = "cosine"
    precision: str = "fp32"
    train_eval_n: int = 2000
    heldout_eval_n: int = 2000
    eval_every: int = 1
    seeds: tuple = (0,)
    edge_minutes_max: float = 100.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_SMOKE = dict(epochs=2, batch_size=16, train_n=320, val_n=64, test_n=64, cv_n=240, fer_per_class=30,
              lfw_n=60, bench_batch=8, bench_repeats=1, checkpoint_every=0, est_cpu_minutes=2,
              note="plumbing check only: a few dozen steps on a few hundred images; numbers mean nothing")
_SMOKE_UNITS = dict(train_eval_n=40, heldout_eval_n=40, seeds=(0, 1), edge_minutes_max=0.0)
_PAPER = dict(epochs=50, loss="mse", schedule="constant", precision="auto", checkpoint_every=100,
              edge_model="auto")
_FULL = dict(epochs=50, edge_model="edgecnn", bench_repeats=50,
             note="the paper's setting: batch 48, 50 epochs, all images, edge CNN at 96x96 (GPU)")

# Reduced-budget times (est_cpu_minutes) are pessimistic estimates from per-batch train times
# measured on the 2-core development CPU (fp32, batch 48, one torch thread, while another
# training job used both cores): edgecnn48 ~0.9 s, frrcnn ~1.0 s, rcnn ~0.16 s, strided
# edgecnn48 ~0.3 s, edgecnn at 96x96 ~4-5x edgecnn48; inference ~1/3 of a train step. Training
# dominates; validation, testing and preprocessing add 5-15%. With both cores free, expect
# roughly half.
BUDGETS: dict[str, dict[str, Budget]] = {
    "fig5": {
        "smoke": Budget("smoke", **_SMOKE),
        "reduced": Budget("reduced", epochs=12, train_n=12_000, val_n=2_000, est_cpu_minutes=110,
                          note="12,000 Training images (stratified), 12 epochs = 3,000 iterations per "
                               "model at batch 48; validation on 2,000 PublicTest images per epoch; "
                               "all 3,589 PrivateTest images once; edge CNN at 48x48"),
        "full": Budget("full", **_FULL),
        "paper": Budget("paper", **_PAPER, est_cpu_minutes=None,
                        note="fold 1 of the paper's 3-fold split of all FER-2013 images (two thirds, about "
                             "23,900, train; identical images kept in one fold), batch 48, 50 epochs (about "
                             "24,800 iterations), constant learning rate, MSE loss; after every epoch the "
                             "accuracy on a fixed 2,000-image sample of the training part and on 2,000 of the "
                             "held-out third, at the end on the whole held-out third"),
    },
    "table1": {
        "smoke": Budget("smoke", **_SMOKE),
        "reduced": Budget("reduced", epochs=1, bench_repeats=20, est_cpu_minutes=5,
                          note="median of 20 timed batches of 48 per model (after 2 warm-up batches)"),
        "full": Budget("full", **{**_FULL, "note": "median of 50 timed batches of 48 per model"}),
        "paper": Budget("paper", **{**_PAPER, "bench_repeats": 20,
                                    "note": "median of 20 timed batches of 48 per model, fp32 and the "
                                            "units' precision, on the machine of the fig5 units"}),
    },
    "cv": {
        "smoke": Budget("smoke", **_SMOKE),
        "reduced": Budget("reduced", epochs=10, cv_n=12_000, train_n=8_000, val_n=2_000, est_cpu_minutes=110,
                          note="3-fold CV over 12,000 of the 35,738 FER-2013 images (stratified; twins "
                               "kept in one fold), 10 epochs per fold (~1,670 iterations); the standard "
                               "protocol trains on 8,000 Training images (a fold's size), 10 epochs, "
                               "and reports all of PrivateTest; edge CNN at 48x48"),
        "full": Budget("full", **_FULL),
        "paper": Budget("paper", **_PAPER,
                        note="3-fold CV over all FER-2013 images (fold 1 is fig5's run), batch 48, 50 epochs "
                             "per fold, the last epoch's model scored on the held-out third; once with folds "
                             "that keep identical images together, once with plain (class-stratified) random "
                             "folds; the standard protocol trains on all of Training, 50 epochs, chooses the "
                             "epoch on PublicTest and reports PrivateTest"),
    },
    "fig6": {
        "smoke": Budget("smoke", **_SMOKE),
        "reduced": Budget("reduced", epochs=10, fer_per_class=1_000, lfw_n=4_000, est_cpu_minutes=75,
                          note="FER-2013 capped at 1,000 per class (6,546 images) + 4,000 LFW photos "
                               "(stratified), 80/20 split, 10 epochs (~1,750 iterations per model); "
                               "edge CNN at 48x48"),
        "full": Budget("full", **_FULL),
        "paper": Budget("paper", **_PAPER, fer_per_class=3269, lfw_n=None,
                        note="FER-2013 capped at 3,269 per class (all 546 disgust images) + every labelled "
                             "LFW photo, 80/20 split by class and source, batch 48, 50 epochs"),
    },
    "ablation": {
        "smoke": Budget("smoke", **_SMOKE),
        "reduced": Budget("reduced", epochs=8, train_n=4_320, val_n=1_000, bench_repeats=10, est_cpu_minutes=115,
                          note="7 runs of 720 iterations (4,320 Training images, 8 epochs), validation "
                               "on 1,000 PublicTest images, all PrivateTest once; base edge CNN at "
                               "48x48 (the 96x96 run costs ~4-5 base runs)"),
        "full": Budget("full", **_FULL),
        "paper": Budget("paper", **{**_PAPER, "edge_model": "edgecnn48", "epochs": 20, "seeds": (0, 1, 2),
                                    "bench_repeats": 10},
                        note="all 28,709 Training images, 20 epochs (about 11,960 iterations), PublicTest "
                             "chooses the epoch, PrivateTest once; 3 seeds per variant; base edge CNN at "
                             "48x48, MSE, constant learning rate"),
    },
}
for _exp in BUDGETS:  # smoke runs as units too (the runner's tests and a quick look)
    BUDGETS[_exp]["smoke"] = dataclasses.replace(BUDGETS[_exp]["smoke"], **_SMOKE_UNITS)


def budget_for(experiment: str, budget: "str | Budget") -> Budget:
    """The :class:`Budget` named ``budget`` for ``experiment`` (a Budget is returned as is)."""
    if isinstance(budget, Budget):
        return budget
    if experiment not in BUDGETS:
        raise ValueError(f"unknown experiment {experiment!r}; available: {', '.join(EXPERIMENTS)}")
    if budget not in BUDGETS[experiment]:
        raise ValueError(f"`budget` must be one of {', '.join(BUDGET_NAMES)}; got {budget!r}")
    return BUDGETS[experiment][budget]


def command(experiment: str, budget: Budget, *, seed: int = 0, device: str = "cpu") -> str:
    """The command line that reproduces a result."""
    cmd = f"edgefer experiment {experiment} --budget {budget.name}"
    if device != "cpu":
        cmd += f" --device {device}"
    if seed:
        cmd += f" --seed {seed}"
    return cmd


def run_dir(out: Path, budget: Budget, experiment: str, name: str) -> Path:
    """Folder of one training run: ``out/runs/<budget>/<experiment>/<name>``."""
    return Path(out) / "runs" / budget.name / experiment / name


# --------------------------------------------------------------------------- data


def stratified_subsample(labels, n: int | None, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` items with class shares as in ``labels`` (all when n is None or larger).

    Per-class counts are rounded by largest remainder, so they sum to exactly ``n``.
    """
    labels = np.asarray(labels)
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    if n < 0:
        raise ValueError(f"`n` must be non-negative; got {n}")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / len(labels)
    take = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - take), kind="stable")[: n - take.sum()]:
        take[k] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:t] for c, t in zip(classes, take)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def cap_per_class(labels, cap: int, *, seed: int = 0) -> np.ndarray:
    """Sorted indices keeping at most ``cap`` items of each class (a random choice from ``seed``)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(labels == c))[:cap] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def subset(ds, index):
    """``ds.subset(index)``, keeping lazily read photos lazy (LFW)."""
    from edgefer.data.dataset import FaceDataset
    from edgefer.data.folders import LazyImages
    index = np.asarray(index, dtype=np.int64)
    if not isinstance(ds.images, LazyImages):
        return ds.subset(index)
    return FaceDataset(images=LazyImages([ds.images.paths[i] for i in index]), labels=ds.labels[index],
                       sources=[ds.sources[i] for i in index], split=ds.split,
                       needs_detection=ds.needs_detection, skipped=dict(ds.skipped),
                       soft_labels=None if ds.soft_labels is None else ds.soft_labels[index])


def fer_root(data_root) -> Path:
    """FER-2013 inside the data-set root."""
    return Path(data_root) / "fer2013"


def lfw_root(data_root) -> Path:
    """LFW with legend.csv inside the data-set root."""
    return Path(data_root) / "lfw"


def load_fer(data_root) -> dict:
    """FER-2013's splits ``{"train", "publictest", "privatetest"}`` from ``<data_root>/fer2013``."""
    from edgefer.data.load import load_splits
    return load_splits(fer_root(data_root), progress=False)


def fer_parts(splits: dict, budget: "Budget", *, seed: int, experiment: str) -> dict:
    """The budget's stratified subsets of the standard protocol: train, val (PublicTest), test (PrivateTest)."""
    parts = {}
    for role, split, n in (("train", "train", budget.train_n), ("val", "publictest", budget.val_n),
                           ("test", "privatetest", budget.test_n)):
        ds = splits[split]
        parts[role] = subset(ds, stratified_subsample(ds.labels, n, seed=seed))
        log.info("%s %s: %d of %d %s images", experiment, role, len(parts[role]), len(ds), split)
    return parts


def model_input_size(name: str, **kwargs) -> int:
    """Input side of a registered model with its default arguments."""
    from edgefer.models import create_model
    return int(getattr(create_model(name, **kwargs), "input_size", 48))


def pixels_for(ds, size: int, *, equalize: bool = True, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Model pixels (N, size, size) of a data set through the pipeline, and detection counts."""
    from edgefer.data.pixels import dataset_pixels
    from edgefer.preprocess.spec import PreprocessSpec
    return dataset_pixels(ds, PreprocessSpec(input_size=size, equalize=equalize), progress=progress)


def twin_mask(test_images, train_images) -> np.ndarray:
    """True for each test image with an identical twin (same pixels) among ``train_images``."""
    from edgefer.evaluate.evaluate import pixel_hashes
    seen = set(pixel_hashes(train_images))
    return np.array([h in seen for h in pixel_hashes(test_images)], bool)


# --------------------------------------------------------------------------- runs


def main_loss(budget: Budget) -> str:
    """The loss of the budget's main runs (fig5, cv, fig6, the ablation's base)."""
    return budget.loss or MAIN_LOSS


def train_config(budget: Budget, model: str, *, seed: int, device: str, loss: str | None = None,
                 equalize: bool = True, model_kwargs: dict | None = None, input_size: int | None = None,
                 precision: str = "fp32"):
    """The TrainConfig of one run: the loop's defaults (SGD, Nesterov momentum 0.9, weight decay
    5e-4) with the budget's epochs, batch, schedule and loss (``loss`` overrides it) and the
    model's learning rate (:data:`MODEL_LR`, else :data:`DEFAULT_LR`)."""
    loss = loss or main_loss(budget)
    from edgefer.train.config import TrainConfig
    kwargs = dict(model_kwargs or {})
    return TrainConfig(model=model, model_kwargs=kwargs,
                       input_size=input_size or model_input_size(model, **kwargs), equalize=equalize,
                       loss=loss, lr=MODEL_LR.get(model, DEFAULT_LR),
                       batch_size=budget.batch_size, epochs=budget.epochs, seed=seed,
                       device=device, checkpoint_every=budget.checkpoint_every,
                       schedule=budget.schedule, precision=precision)


def reuse(path: Path, key: dict) -> dict | None:
    """The result stored at ``path`` when it was made with ``key``; None when absent.

    Raises
    ------
    ValueError
        The file was made with other settings (another budget, seed or configuration).
    """
    if not path.exists():
        return None
    found = json.loads(path.read_text())
    if json.loads(json.dumps(key, default=str)) != found.get("key"):
        raise ValueError(f"{path}: was made with other settings than this run's; delete its folder "
                         f"or write to another --out")
    log.info("reusing %s", path)
    return found


def read_iterations(run: Path, *, points: int = 400) -> dict:
    """Per-iteration training loss and batch accuracy of a run, smoothed and thinned to ``points``.

    The raw values stay in the run's ``iterations.csv``; the moving average spans 1/50 of the run.
    """
    path = Path(run) / "iterations.csv"
    if not path.exists():
        return {"iteration": [], "loss": [], "accuracy": []}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    it = np.array([int(r["iteration"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    acc = np.array([float(r["accuracy"]) for r in rows])
    if len(it) == 0:
        return {"iteration": [], "loss": [], "accuracy": []}
    w = max(1, len(it) // 50)
    kernel = np.ones(w) / w
    smooth = lambda v: np.convolve(v, kernel, mode="valid")  # noqa: E731
    it, loss, acc = it[w - 1:], smooth(loss), smooth(acc)
    pick = np.unique(np.linspace(0, len(it) - 1, min(points, len(it))).astype(int))
    return {"iteration": it[pick].tolist(), "loss": np.round(loss[pick], 5).tolist(),
            "accuracy": np.round(acc[pick], 5).tolist(), "window": w}


def convergence_iteration(iterations, accuracies, *, tol: float = 0.01) -> dict:
    """Where a curve converges: the first point after which accuracy stays within ``tol`` of its final value.

    Returns ``{"iteration", "final_accuracy", "tolerance", "before_end"}``; ``before_end`` is
    False when only the last point qualifies (the run ended before the curve settled).
    """
    acc = np.asarray(accuracies, dtype=float)
    if len(acc) == 0:
        return {"iteration": None, "final_accuracy": None, "tolerance": tol, "before_end": False}
    inside = np.abs(acc - acc[-1]) <= tol + 1e-12
    i = len(acc) - 1
    while i > 0 and inside[i - 1]:
        i -= 1
    return {"iteration": int(list(iterations)[i]), "final_accuracy": float(acc[-1]), "tolerance": tol,
            "before_end": bool(i < len(acc) - 1)}


def test_report(checkpoint: Path, pixels: np.ndarray, labels: np.ndarray, *, device: str = "cpu",
                twins: np.ndarray | None = None) -> dict:
    """Metrics of a checkpoint on test pixels; with ``twins``, accuracy also on the images without one."""
    from edgefer.evaluate.metrics import classification_report
    from edgefer.recognize import Recognizer
    rec = Recognizer(checkpoint, device=device)
    pred = rec.probabilities(pixels).argmax(1)
    rep = classification_report(labels, pred)
    if twins is not None:
        solo = ~np.asarray(twins, bool)
        rep["n_with_twin_in_train"] = int((~solo).sum())
        rep["accuracy_without_twins"] = float((pred[solo] == labels[solo]).mean()) if solo.any() else None
    rep["predictions"] = pred.tolist()
    return rep


def train_and_test(cfg, out_dir: Path, train: tuple, *, val: tuple | None = None, test: tuple | None = None,
                   key: dict | None = None, device: str = "cpu", test_twins=None, trained_on: dict | None = None,
                   progress: bool = False) -> dict:
    """Train (resuming an interrupted run), then score ``best.pt`` on ``test``; cached in ``result.json``.

    ``train``, ``val`` and ``test`` are ``(pixels, labels)``. The model kept is the best on
    ``val`` by accuracy (the last epoch's without ``val``). Returns the run's record: config,
    per-epoch history, validation curve, smoothed training curve, convergence, timing and the
    test report.
    """
    from edgefer.train.loop import fit
    out_dir = Path(out_dir)
    done = out_dir / "result.json"
    key = {"config": cfg.to_dict(), "n_train": int(len(train[1])),
           "n_val": None if val is None else int(len(val[1])),
           "n_test": None if test is None else int(len(test[1])), **(key or {})}
    found = reuse(done, key)
    if found is not None:
        return found
    resume = (out_dir / "last.pt").exists()
    t0 = time.time()
    res = fit(cfg, train[0], train[1], val_pixels=None if val is None else val[0],
              val_labels=None if val is None else val[1], out_dir=out_dir, resume=resume,
              progress=progress, trained_on=trained_on)
    history = res["history"]
    record = {"key": key, "model": cfg.model, "model_kwargs": cfg.model_kwargs, "input_size": cfg.input_size,
              "config": cfg.to_dict(), "run_dir": str(out_dir), "resumed": resume,
              "iterations": res["iterations"], "history": history,
              # Wall time of the last session (validation included); a resumed run restarts the clock.
              "wall_seconds": history[-1]["seconds"] if history else round(time.time() - t0, 1)}
    record["wall_seconds_per_iteration"] = (
        None if resume else round(record["wall_seconds"] / max(1, res["iterations"]), 4))
    if val is not None:
        its = [h["iteration"] for h in history]
        accs = [h.get("val_accuracy") for h in history]
        record["val_curve"] = {"iteration": its, "accuracy": accs}
        record["best_val_accuracy"] = res["best_val_accuracy"]
        record["convergence"] = convergence_iteration(its, accs)
    record["train_curve"] = read_iterations(out_dir)
    if test is not None:
        record["test"] = test_report(out_dir / "best.pt", test[0], test[1], device=device, twins=test_twins)
        record["test"].pop("predictions")
    from edgefer.results import write_json
    write_json(done, record)
    return record


def write_result(out: Path, experiment: str, result: dict, *, budget: Budget, seed: int, device: str,
                 data: dict) -> dict:
    """Write ``out/<experiment>.json`` with the budget, seed, command, paper numbers and provenance; return it."""
    from edgefer.results import provenance, write_json
    result = {"experiment": experiment, "budget": budget.to_dict(), "seed": seed, "device": device,
              "command": command(experiment, budget, seed=seed, device=device),
              "paper": PAPER.get(experiment, {}), **result,
              "provenance": provenance(data=data, split=result.get("split", {}), budget=budget.name,
                                       seed=seed, device=device, experiment=experiment)}
    write_json(Path(out) / f"{experiment}.json", result)
    return result


def rel(path: Path, out: Path) -> str:
    """``path`` relative to ``out`` with forward slashes, for result JSON."""
    return os.path.relpath(path, out).replace(os.sep, "/")


LAST_EPOCHS = 5
"""Fig. 6 also reads each model's mean test accuracy over its last five scored epochs (C8)."""


def last_epochs_mean(epochs, n: int = LAST_EPOCHS) -> float | None:
    """Mean test accuracy over the last ``n`` scored epochs of a Fig. 6 run (its ``epochs`` list,
    each with ``accuracy``); None with fewer than ``n`` scored epochs."""
    accs = [e["accuracy"] for e in (epochs or []) if e.get("accuracy") is not None]
    return float(sum(accs[-n:]) / n) if len(accs) >= n else None
