"""The paper's experiments at its own budget, cut into units that each finish in about two hours.

A *unit* is one model trained once: one model on one fold, one figure's model, one ablation
variant with one seed, or the timing of Table 1. Units run one at a time, in the order of
:func:`list_units` (Fig. 5's models, the grouped CV's folds 2-3, the standard protocol, Fig. 6,
the random-fold CV, the ablation seeds), each under the one lock of heavy jobs
(:class:`edgefer.cpu.heavy_lock`). A unit checkpoints as it trains (``<out>/runs/<budget>/units/
<unit>/``, never committed), so a killed unit resumes where it stopped; when it finishes it writes
its small result ``<out>/<budget>/<unit>.json``, and the runner skips units whose file exists.
:func:`aggregate` builds ``<out>/fig5.json``, ``cv.json``, ``fig6.json``, ``ablation.json`` and
``table1.json`` from the unit files once an experiment's units are all done.

Before the first unit, :func:`make_plan` times a few real training steps of every model in the
units' precision on this machine and writes ``<out>/<budget>/plan.json``: the estimate of every
unit, and the edge CNN of the whole budget: ``edgecnn`` (96x96) when its fig5 unit is estimated
at no more than ``budget.edge_minutes_max`` minutes, else ``edgecnn48``; every fold of a
cross-validation and Fig. 6 use that net.

Folds: all FER-2013 images (Training, PublicTest and PrivateTest pooled) in three
class-stratified folds; *grouped* folds keep identical images (1,523 groups) in one fold,
*random* folds ignore them, as the paper most likely did. "Fold 1" holds out the first third.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgefer.experiments._common import (
    ONE_CLASS, PAPER, budget_for, convergence_iteration, last_epochs_mean, load_fer, main_loss, model_input_size,
    pixels_for, read_iterations, stratified_subsample, subset, train_config,
)
from edgefer.results import machine_label

log = logging.getLogger(__name__)

FOLDS = 3
CONTRAST = ("rcnn", "frrcnn")
CE_CONTRAST = ("rcnn",)
"""Contrast models also trained with cross-entropy in Fig. 5 and Fig. 6 (units ``fig5-rcnn-ce``,
``fig6-rcnn-ce``): under the paper's MSE, R-CNN's expression term sits beside Faster R-CNN's
four other losses and the model never left one class (``fig5-rcnn``, paper budget: 25.07 % of
11,913 held-out images, every one called happy), while with cross-entropy, its own method's
loss, it trains (48.82 % at the reduced budget). Comparing the edge CNN with a model that never
trained would say nothing, so the report compares with the cross-entropy run where the MSE one
collapsed, and says so."""
PLAN = "plan.json"
EXPERIMENT_OF = {"table1": "table1", "fig5": "fig5", "cv": "cv", "standard": "cv", "rcv": "cv",
                 "fig6": "fig6", "ablation": "ablation"}
"""Unit kind -> the experiment (and budget table) it belongs to."""


@dataclass(frozen=True)
class Unit:
    """One unit of work.

    Attributes
    ----------
    name : file name of its result, e.g. ``fig5-rcnn``, ``cv-fold2``, ``ablation-s1-base``.
    kind : ``table1``, ``fig5``, ``cv`` (grouped folds 2-3), ``standard``, ``fig6``, ``rcv``
        (random folds) or ``ablation``.
    model : the registered model it trains (None for table1).
    fold : 1-based fold held out (fig5: 1; cv: 2, 3; rcv: 1-3).
    seed : training seed (ablation seeds; 0 elsewhere).
    variant : ablation variant name.
    loss : a loss other than the budget's main one (:data:`CE_CONTRAST`), None: the main loss.
    """

    name: str
    kind: str
    model: str | None = None
    fold: int | None = None
    seed: int = 0
    variant: str | None = None
    loss: str | None = None

    @property
    def experiment(self) -> str:
        return EXPERIMENT_OF[self.kind]


def unit_dir(out, budget_name: str) -> Path:
    """Folder of the unit result files: ``<out>/<budget>``."""
    return Path(out) / budget_name


def work_dir(out, budget_name: str, unit: Unit | str) -> Path:
    """Checkpoints and logs of a unit (or unit name; outside git): ``<out>/runs/<budget>/units/<unit>``."""
    return Path(out) / "runs" / budget_name / "units" / (unit if isinstance(unit, str) else unit.name)


def result_path(out, budget_name: str, unit: Unit) -> Path:
    return unit_dir(out, budget_name) / f"{unit.name}.json"


def iterations_done(out, budget_name: str, unit_name: str) -> int:
    """Training iterations an unfinished run of a unit has done so far: the last row of its
    ``iterations.csv`` (0 when it never started). A killed unit resumes from its last checkpoint,
    at most a few hundred iterations before that row."""
    path = work_dir(out, budget_name, unit_name) / "iterations.csv"
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 512))
        rows = f.read().decode("ascii", "replace").strip().splitlines()
    try:
        return int(rows[-1].split(",")[1])
    except (IndexError, ValueError):  # only the header, or a row cut short by a kill
        return 0


# --------------------------------------------------------------------------- plan


def list_units(budget_name: str, edge_model: str) -> list[Unit]:
    """Every unit of the budget, in the order they run."""
    from edgefer.experiments.ablation import variants
    units = [Unit("table1", "table1")]
    fig5_models = [edge_model] + (["edgecnn48"] if edge_model != "edgecnn48" else []) + list(CONTRAST)
    units += [Unit(f"fig5-{m}", "fig5", m, fold=1) for m in fig5_models]
    units += [Unit(f"fig5-{m}-ce", "fig5", m, fold=1, loss="ce") for m in CE_CONTRAST]
    units += [Unit(f"cv-fold{f}", "cv", edge_model, fold=f) for f in (2, 3)]
    units.append(Unit("cv-standard", "standard", edge_model))
    units += [Unit(f"fig6-{m}", "fig6", m) for m in [edge_model, *CONTRAST]]
    units += [Unit(f"fig6-{m}-ce", "fig6", m, loss="ce") for m in CE_CONTRAST]
    units += [Unit(f"rcv-fold{f}", "rcv", edge_model, fold=f) for f in (1, 2, 3)]
    b = budget_for("ablation", budget_name)
    # variant by variant (each over its seeds), so that each claim of the ablation gets its
    # verdict as soon as its own runs are done, not only after the last seed of every variant
    for v in variants(b):
        for seed in b.seeds:
            units.append(Unit(f"ablation-s{seed}-{v['name']}", "ablation", v["model"], seed=seed,
                              variant=v["name"]))
    return units


def claim_units(budget_name: str, edge_model: str) -> dict[str, list[str]]:
    """REPORT.md's claim id -> the units of the budget its verdict needs (in run order).

    C1-C4 need Fig. 5 (every model), C5 Table 1, C6a the grouped folds (fold 1 is Fig. 5's edge
    CNN), C6b those and the random folds, C7 the mix's sizes (any one Fig. 6 unit; the edge CNN's),
    C8 all of Fig. 6, and C9-C13 the ablation's base and the claim's variant, every seed."""
    from edgefer.experiments.ablation import CLAIMS
    units = list_units(budget_name, edge_model)
    of = lambda keep: [u.name for u in units if keep(u)]  # noqa: E731
    fig5 = of(lambda u: u.kind == "fig5")
    grouped = [f"fig5-{edge_model}", *of(lambda u: u.kind == "cv")]
    need = {**{c: fig5 for c in ("C1a", "C1b", "C2", "C3", "C4")}, "C5": of(lambda u: u.kind == "table1"),
            "C6a": grouped, "C6b": grouped + of(lambda u: u.kind == "rcv"), "C7": [f"fig6-{edge_model}"],
            "C8": of(lambda u: u.kind == "fig6")}
    for c in CLAIMS:
        need[c.cid] = of(lambda u: u.kind == "ablation" and u.variant in ("base", *c.needs))
    return need


def _precision(budget, run: Path | None = None) -> str:
    if budget.precision != "auto":
        return budget.precision
    from edgefer.cpu import run_precision
    return run_precision(str(run) if run is not None else None)


def _unit_cost(unit: Unit, budget_name: str, n_pool: int, n_train_std: int, n_fig6: int) -> tuple[int, int]:
    """(training iterations, images scored) of a unit."""
    b = budget_for(unit.experiment, budget_name)
    if unit.kind == "table1":
        return 0, 0
    if unit.kind in ("fig5", "cv", "rcv"):
        n_tr = n_pool * (FOLDS - 1) // FOLDS
        evals = (b.epochs // b.eval_every) * (b.train_eval_n + b.heldout_eval_n) + n_pool - n_tr
        return (n_tr // b.batch_size) * b.epochs, evals
    if unit.kind == "fig6":
        n_tr = int(round(n_fig6 * 0.8))
        return (n_tr // b.batch_size) * b.epochs, b.epochs * (n_fig6 - n_tr)
    n = n_train_std if b.train_n is None else min(b.train_n, n_train_std)  # standard, ablation
    return (n // b.batch_size) * b.epochs, b.epochs * 3589 + 3589


def make_plan(budget_name: str = "paper", *, out="results", data_root=None, repeats: int = 3) -> dict:
    """Time every model here, estimate every unit and choose the edge CNN; ``<out>/<budget>/plan.json``.

    An existing plan keeps its edge CNN and estimates (they stay for all units, wherever they
    run); units added to :func:`list_units` since it was made join it, estimated from its timings.
    """
    from edgefer.bench import model_speed
    from edgefer.results import provenance, write_json
    path = unit_dir(out, budget_name) / PLAN
    if path.exists():
        return _extend_plan(path, budget_name)
    b5 = budget_for("fig5", budget_name)
    precision = _precision(b5)
    sizes = _data_sizes(budget_name, data_root)
    speed = {}
    scale = b5.batch_size / b5.bench_batch  # smoke times small batches
    for m in ("edgecnn", "edgecnn48", *CONTRAST):
        log.info("timing %s (%s)", m, precision)
        s = model_speed(m, batch=b5.bench_batch, repeats=repeats, precision=precision)
        speed[m] = {**s, "train_ms_per_batch": round(s["train_ms_per_batch"] * scale, 2),
                    "infer_ms_per_batch": round(s["infer_ms_per_batch"] * scale, 2)}

    def minutes(unit: Unit) -> float:
        return _minutes(unit, budget_name, sizes, speed)

    edge96 = minutes(Unit("fig5-edgecnn", "fig5", "edgecnn", fold=1))
    if b5.edge_model != "auto":
        edge = b5.edge_model
    else:
        edge = "edgecnn" if edge96 <= b5.edge_minutes_max else "edgecnn48"
    units = list_units(budget_name, edge)
    plan = {"budget": budget_name, "edge_model": edge, "precision": precision,
            "rule": f"edgecnn (96x96) when its fig5 unit is estimated at <= {b5.edge_minutes_max:g} minutes "
                    f"here, else edgecnn48; estimated {edge96:g} minutes",
            "edgecnn_fig5_minutes": edge96, "ms_per_batch": {m: {k: s[k] for k in ("train_ms_per_batch",
                                                                                   "infer_ms_per_batch")}
                                                             for m, s in speed.items()},
            "data": {"pooled": sizes[0], "training": sizes[1], "fig6_mix": sizes[2]},
            "units": [{"name": u.name, "est_minutes": minutes(u), "iterations": _unit_cost(u, budget_name, *sizes)[0]}
                      for u in units],
            "provenance": provenance(budget=budget_name)}
    plan["est_total_hours"] = round(sum(u["est_minutes"] for u in plan["units"]) / 60, 1)
    write_json(path, plan)
    return plan


def _minutes(unit: Unit, budget_name: str, sizes, speed: dict) -> float:
    """A unit's estimated minutes from the models' ms per batch (``speed``)."""
    it, scored = _unit_cost(unit, budget_name, *sizes)
    s = speed.get(unit.model or "", speed["edgecnn48"])
    # data preparation, checkpoints and resumes add about 5 %
    return round(1.05 * (it * s["train_ms_per_batch"] + scored / 48 * s["infer_ms_per_batch"]) / 60_000, 1)


def _extend_plan(path: Path, budget_name: str) -> dict:
    """The plan in ``path``, with the units :func:`list_units` has and it lacks added in their
    place (estimated from the plan's own timings and data sizes), every unit in :func:`list_units`'
    order, and the file rewritten when that changed anything."""
    from edgefer.results import write_json
    plan = json.loads(path.read_text())
    units = list_units(budget_name, plan["edge_model"])
    have = {u["name"]: u for u in plan["units"]}
    if [u["name"] for u in plan["units"]][:len(units)] == [u.name for u in units]:
        return plan  # every unit, in the order they run
    d = plan["data"]
    sizes = (d["pooled"], d["training"], d["fig6_mix"])
    listed = {u.name for u in units}
    plan["units"] = [have.get(u.name) or {"name": u.name, "est_minutes": _minutes(u, budget_name, sizes,
                                                                                  plan["ms_per_batch"]),
                                          "iterations": _unit_cost(u, budget_name, *sizes)[0]}
                     for u in units] + [u for u in plan["units"] if u["name"] not in listed]
    plan["est_total_hours"] = round(sum(u["est_minutes"] for u in plan["units"]) / 60, 1)
    write_json(path, plan)
    return plan


def machine_kind(machine: dict) -> tuple:
    """What makes two machines time alike: CPU name, cores and SIMD extensions."""
    return machine.get("cpu"), machine.get("cores"), tuple(machine.get("simd") or ())


def speed_factors(plan: dict, budget_name: str = "paper", *, models=None,
                  repeats: int = 3) -> tuple[dict[str, float], str]:
    """({model: this machine's time over the plan's machine's}, a sentence saying so) for the
    plan's estimates of the units that train ``models`` (default: the plan's edge CNN).

    1.0 for every model on the kind of machine that made the plan. Elsewhere each model is timed
    here for a few training batches, in the precision a unit started here trains in (fp32 where
    bf16 is not native: emulated bf16 is 13-40 times slower), against the plan's own timing of
    it. Models do not scale alike between machines: on the AVX2-only EPYC against the AMX Xeon the
    96x96 edge CNN slows by about 7x and the 48x48 one by about 5x, so one factor would
    underestimate a 96x96 unit by a third. The plan's estimates stay as they are (every unit's
    file keeps its own machine and wall hours), and the runner scales them by these factors to
    decide which units fit in ``--hours``."""
    from edgefer.bench import model_speed
    from edgefer.results import machine
    here = machine()
    there = plan["provenance"]["machine"]
    timed = [m for m in dict.fromkeys(models or [plan["edge_model"]]) if m in plan["ms_per_batch"]]
    if machine_kind(here) == machine_kind(there):
        return dict.fromkeys(timed, 1.0), f"estimates from this kind of machine ({machine_label(there)})"
    b5 = budget_for("fig5", budget_name)
    precision = _precision(b5)  # what a unit started here trains in, not necessarily the plan's
    factors, parts = {}, []
    for m in timed:
        s = model_speed(m, batch=b5.bench_batch, repeats=repeats, precision=precision)
        ms = s["train_ms_per_batch"] * b5.batch_size / b5.bench_batch
        before = plan["ms_per_batch"][m]["train_ms_per_batch"]
        factors[m] = round(ms / before, 2)
        parts.append(f"{m} x{factors[m]:g} ({ms:.1f} ms a training batch here in {precision}, "
                     f"{before:g} ms on the plan's {machine_label(there)} in {plan['precision']})")
    return factors, f"estimates scaled on this {machine_label(here)}: " + "; ".join(parts)


def plan_for(budget_name: str = "paper", *, out="results", data_root=None) -> dict:
    """:func:`make_plan`, under the lock of heavy jobs only when the models must be timed (no plan
    yet): with a plan on disk it neither times nor waits for a running unit."""
    from edgefer.cpu import heavy_lock
    if (unit_dir(out, budget_name) / PLAN).exists():
        return make_plan(budget_name, out=out, data_root=data_root)
    with heavy_lock(f"edgefer units --budget {budget_name} (plan)"):
        return make_plan(budget_name, out=out, data_root=data_root)


def _data_sizes(budget_name: str, data_root) -> tuple[int, int, int]:
    """(pooled FER-2013 images for CV, Training images, images in the fig6 mix) at this budget."""
    from edgefer.data.load import dataset_root
    from edgefer.experiments import fig6
    root = Path(data_root) if data_root else dataset_root()
    splits = load_fer(root)
    b = budget_for("cv", budget_name)
    n_pool = sum(len(splits[s]) for s in ("train", "publictest", "privatetest"))
    n_pool = n_pool if b.cv_n is None else min(n_pool, b.cv_n)
    try:
        n_fig6 = len(fig6.build_mix(root, budget_for("fig6", budget_name)))
    except FileNotFoundError:  # no LFW: Fig. 6 cannot run here; its units say so when they start
        n_fig6 = 0
    return n_pool, len(splits["train"]), n_fig6


# --------------------------------------------------------------------------- data


def pool_and_folds(root, budget, *, grouped: bool):
    """All FER-2013 images pooled (the budget's sample), and the 0-based fold of each."""
    from edgefer.data.load import concat
    from edgefer.evaluate.cv import stratified_group_folds
    from edgefer.evaluate.evaluate import pixel_hashes
    splits = load_fer(root)
    pooled = concat([splits[s] for s in ("train", "publictest", "privatetest")], split="all")
    pool = subset(pooled, stratified_subsample(pooled.labels, budget.cv_n, seed=0))
    groups = pixel_hashes(pool.images) if grouped else np.arange(len(pool))
    return pool, stratified_group_folds(pool.labels, groups, FOLDS, seed=0)


def _score(run: Path, pixels: np.ndarray, precision: str, device: str) -> np.ndarray:
    """Predicted classes of the model in ``run/best.pt`` (the last epoch's when trained without
    validation), in the training precision."""
    import torch

    from edgefer.models import create_model
    from edgefer.preprocess.spec import PreprocessSpec
    from edgefer.checkpoint import load_checkpoint
    from edgefer.train.loop import predict_logits
    ck = load_checkpoint(run / "best.pt")
    model = create_model(ck["model_name"], **ck["model_kwargs"])
    model.load_state_dict(ck["state_dict"])
    model = model.to(device).to(memory_format=torch.channels_last)
    spec = PreprocessSpec.from_dict(ck["preprocess"])
    return predict_logits(model, spec.to_tensor(pixels), precision=precision, device=device).argmax(1).numpy()


class _Clock:
    """Wall and CPU seconds of a unit, summed over the sessions (resumes) in ``<run>/time.json``.

    ``tick(every)`` saves in a background thread every ``every`` seconds, so that a unit killed
    mid-run (at the end of a session) loses at most that much of its time, not the whole session.
    """

    def __init__(self, run: Path):
        self.path = run / "time.json"
        self.before = json.loads(self.path.read_text()) if self.path.exists() else \
            {"wall_seconds": 0.0, "cpu_seconds": 0.0, "sessions": 0}
        self.before["sessions"] += 1
        self.t0, self.c0 = time.time(), self._cpu()
        self._stop = None
        self._lock = threading.Lock()  # the ticking thread and the unit both save

    def tick(self, every: float = 60.0) -> None:
        self._stop = threading.Event()

        def loop(stop=self._stop):
            while not stop.wait(every):
                self.save()
        self._thread = threading.Thread(target=loop, name="unit-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
            self._stop = None

    @staticmethod
    def _cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def now(self) -> dict:
        return {"wall_seconds": round(self.before["wall_seconds"] + time.time() - self.t0, 1),
                "cpu_seconds": round(self.before["cpu_seconds"] + self._cpu() - self.c0, 1),
                "sessions": self.before["sessions"]}

    def save(self) -> dict:
        from edgefer.results import write_json
        with self._lock:
            now = self.now()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json(self.path, now)
        return now


def train_tracked(cfg, run: Path, train: tuple, evals: dict, *, key: dict, every: int = 1,
                  device: str = "cpu", progress: bool = False, clock: _Clock | None = None) -> list[dict]:
    """Train epoch by epoch (one resumable ``fit`` call each), scoring every ``(pixels, labels)`` of
    ``evals`` after every ``every`` epochs and after the last; returns the curve points.

    The points so far are kept in ``run/curve.json``, so an interrupted unit resumes from its last
    checkpoint without scoring again.
    """
    from edgefer.experiments._common import reuse
    from edgefer.results import write_json
    from edgefer.train.loop import fit
    key = {"config": cfg.to_dict(), "n_train": int(len(train[1])),
           "evals": {k: int(len(v[1])) for k, v in evals.items()}, **key}
    path = run / "curve.json"
    found = reuse(path, key)
    points = [] if found is None else found["points"]
    steps = max(1, len(train[1]) // cfg.batch_size)
    # a checkpoint past the last point (killed while scoring) is picked up by fit, which then
    # trains no further and saves that model for the scores
    epoch = points[-1]["epoch"] if points else 0
    while epoch < cfg.epochs:
        nxt = min(cfg.epochs, (epoch // every + 1) * every)
        fit(dataclasses.replace(cfg, max_steps=nxt * steps), train[0], train[1], out_dir=run,
            resume=(run / "last.pt").exists(), progress=progress, trained_on={"n": int(len(train[1]))})
        epoch = nxt
        point = {"epoch": epoch, "iteration": epoch * steps}
        for name, (px, y) in evals.items():
            pred = _score(run, px, cfg.precision, device)
            point[f"{name}_accuracy"] = round(float((pred == np.asarray(y)).mean()), 5)
        points.append(point)
        if clock is not None:
            point.update(clock.save())
        write_json(path, {"key": key, "points": points})
        log.info("%s epoch %d: %s", cfg.model, epoch,
                 ", ".join(f"{k} {v:.4f}" for k, v in point.items() if k.endswith("accuracy")))
    return points


def _curves(points: list[dict], names) -> dict:
    its = [p["iteration"] for p in points]
    out = {"iteration": its, "epoch": [p["epoch"] for p in points]}
    for n in names:
        accs = [p.get(f"{n}_accuracy") for p in points]
        out[f"{n}_accuracy"] = accs
        out[f"{n}_convergence"] = convergence_iteration(its, accs) if accs else None
    return out


# --------------------------------------------------------------------------- units


def run_unit(unit: Unit, budget_name: str = "paper", *, out="results", data_root=None, device: str = "cpu",
             progress: bool = False, plan: dict | None = None) -> dict:
    """Run one unit (resuming it) and write ``<out>/<budget>/<unit>.json``; returns the record."""
    from edgefer.data.load import dataset_root
    from edgefer.results import provenance, write_json
    root = Path(data_root) if data_root else dataset_root()
    out = Path(out)
    b = budget_for(unit.experiment, budget_name)
    run = work_dir(out, budget_name, unit)
    run.mkdir(parents=True, exist_ok=True)
    clock = _Clock(run)
    clock.tick()
    try:
        precision = _precision(b, run)
        rec = {"unit": unit.name, "kind": unit.kind, "experiment": unit.experiment, "model": unit.model,
               "fold": unit.fold, "seed": unit.seed, "variant": unit.variant, "loss_variant": unit.loss,
               "budget": b.to_dict(),
               "precision": precision, "edge_model": (plan or {}).get("edge_model"),
               "command": f"edgefer units --budget {budget_name} --only {unit.name}"}
        if unit.kind == "table1":
            rec.update(_table1(b, precision))
        elif unit.kind in ("fig5", "cv", "rcv"):
            rec.update(_fold_unit(unit, b, root, run, precision, device, progress, clock))
        elif unit.kind == "standard":
            rec.update(_standard_unit(unit, b, root, run, precision, device, progress))
        elif unit.kind == "fig6":
            rec.update(_fig6_unit(unit, b, root, run, precision, device, progress))
        elif unit.kind == "ablation":
            rec.update(_ablation_unit(unit, b, root, run, precision, device, progress))
        else:  # pragma: no cover - list_units makes only the kinds above
            raise ValueError(f"unknown unit kind {unit.kind!r}")
    finally:
        clock.stop()
    t = clock.save()
    rec["time"] = {**t, "wall_hours": round(t["wall_seconds"] / 3600, 3),
                   "cpu_hours": round(t["cpu_seconds"] / 3600, 3)}
    rec["provenance"] = provenance(data=str(root), budget=budget_name, unit=unit.name, device=device)
    write_json(result_path(out, budget_name, unit), rec)
    return rec


def _table1(b, precision: str) -> dict:
    from edgefer.bench import model_speed
    rows = {}
    for m in ("edgecnn", "edgecnn48", *CONTRAST):
        rows[m] = {p: model_speed(m, batch=b.bench_batch, repeats=b.bench_repeats, precision=p)
                   for p in dict.fromkeys(("fp32", precision))}
    return {"batch": b.bench_batch, "repeats": b.bench_repeats, "models": rows}


def _fold_unit(unit, b, root, run, precision, device, progress, clock) -> dict:
    pool, fold = pool_and_folds(root, b, grouped=unit.kind != "rcv")
    te = fold == unit.fold - 1
    tr = ~te
    size = model_input_size(unit.model)
    px, _ = pixels_for(pool, size)
    y = np.asarray(pool.labels)
    tr_idx, te_idx = np.flatnonzero(tr), np.flatnonzero(te)
    tr_s = tr_idx[stratified_subsample(y[tr_idx], b.train_eval_n, seed=0)]
    te_s = te_idx[stratified_subsample(y[te_idx], b.heldout_eval_n, seed=0)]
    cfg = train_config(b, unit.model, seed=unit.seed, device=device, input_size=size, precision=precision,
                       loss=unit.loss)
    points = train_tracked(cfg, run, (px[tr], y[tr]), {"train_sample": (px[tr_s], y[tr_s]),
                                                       "heldout_sample": (px[te_s], y[te_s])},
                           key={"data": str(root), "fold": unit.fold, "grouped": unit.kind != "rcv"},
                           every=b.eval_every, device=device, progress=progress, clock=clock)
    from edgefer.evaluate.metrics import classification_report
    pred = _score(run, px[te], precision, device)
    rep = classification_report(y[te], pred)
    return {"folds": "random" if unit.kind == "rcv" else "grouped", "input_size": size, "config": cfg.to_dict(),
            "n_pool": len(pool), "n_train": int(tr.sum()), "n_heldout": int(te.sum()),
            "n_train_sample": len(tr_s), "n_heldout_sample": len(te_s),
            "iterations": points[-1]["iteration"] if points else 0,
            "curves": _curves(points, ("train_sample", "heldout_sample")),
            "train_batch_curve": read_iterations(run),
            "heldout": {k: rep[k] for k in ("accuracy", "macro_f1", "confusion", "n")},
            "train_sample_accuracy": points[-1]["train_sample_accuracy"] if points else None}


def _standard_unit(unit, b, root, run, precision, device, progress) -> dict:
    from edgefer.experiments._common import fer_parts, train_and_test, twin_mask
    splits = load_fer(root)
    parts = fer_parts(splits, dataclasses.replace(b, train_n=None, val_n=None, test_n=None) if b.name == "paper"
                      else b, seed=0, experiment="cv")
    twins = twin_mask(parts["test"].images, splits["train"].images)
    size = model_input_size(unit.model)
    px = {role: pixels_for(ds, size)[0] for role, ds in parts.items()}
    cfg = train_config(b, unit.model, seed=unit.seed, device=device, input_size=size, precision=precision)
    r = train_and_test(cfg, run, (px["train"], parts["train"].labels), val=(px["val"], parts["val"].labels),
                       test=(px["test"], parts["test"].labels), key={"data": str(root)}, device=device,
                       test_twins=twins, trained_on={"split": "train", "n": len(parts["train"])},
                       progress=progress)
    return {"input_size": size, "config": cfg.to_dict(), "iterations": r["iterations"],
            "n": {role: len(ds) for role, ds in parts.items()}, "test_with_twin_in_training": int(twins.sum()),
            "val_curve": r["val_curve"], "convergence": r["convergence"],
            "best_val_accuracy": r["best_val_accuracy"],
            "test": {k: r["test"][k] for k in ("accuracy", "macro_f1", "confusion", "accuracy_without_twins", "n")}}


def _fig6_unit(unit, b, root, run, precision, device, progress) -> dict:
    from edgefer.experiments import fig6
    mix = fig6.build_mix(root, b, seed=0)
    size = model_input_size(unit.model)
    px, detection = fig6.mix_pixels(mix, size, progress=progress)
    cfg = train_config(b, unit.model, seed=unit.seed, device=device, input_size=size, precision=precision,
                       loss=unit.loss)
    tr, te = ~mix.test, mix.test
    r = fig6.train_epochs(cfg, run, (px[tr], mix.labels[tr]), (px[te], mix.labels[te]), mix.source[te],
                          key={"data": str(root)}, device=device, progress=progress)
    return {"input_size": size, "config": cfg.to_dict(), "mix": mix.counts(), "detection": detection,
            "lfw_legend_skipped": dict(mix.lfw.skipped), "fer_per_class_cap": b.fer_per_class,
            "epochs": r["epochs"], "final": r["final"],
            "iterations": r["epochs"][-1]["iteration"] if r["epochs"] else 0}


def _ablation_unit(unit, b, root, run, precision, device, progress) -> dict:
    from edgefer.bench import model_speed
    from edgefer.experiments._common import fer_parts, train_and_test, twin_mask
    from edgefer.experiments.ablation import variants
    var = next(v for v in variants(b) if v["name"] == unit.variant)
    splits = load_fer(root)
    parts = fer_parts(splits, b, seed=0, experiment="ablation")
    twins = twin_mask(parts["test"].images, splits["train"].images)
    size = model_input_size(var["model"], **var["model_kwargs"])
    px = {role: pixels_for(ds, size, equalize=var["equalize"])[0] for role, ds in parts.items()}
    cfg = train_config(b, var["model"], seed=unit.seed, device=device, loss=var["loss"], equalize=var["equalize"],
                       model_kwargs=var["model_kwargs"], input_size=size, precision=precision)
    r = train_and_test(cfg, run, (px["train"], parts["train"].labels), val=(px["val"], parts["val"].labels),
                       test=(px["test"], parts["test"].labels), key={"data": str(root)}, device=device,
                       test_twins=twins, trained_on={"split": "train", "n": len(parts["train"])},
                       progress=progress)
    speed = model_speed(var["model"], batch=b.bench_batch, repeats=b.bench_repeats, precision=precision,
                        **var["model_kwargs"])
    # The base net timed in the same unit, on the same machine, in the same precision: the seeds of
    # one variant may run on different CPUs, so speeds are compared only as this ratio (C13).
    base = next(v for v in variants(b) if v["name"] == "base")
    same_net = (var["model"], var["model_kwargs"]) == (base["model"], base["model_kwargs"])
    speed_base = speed if same_net else model_speed(base["model"], batch=b.bench_batch, repeats=b.bench_repeats,
                                                    precision=precision, **base["model_kwargs"])
    return {**var, "input_size": size, "config": cfg.to_dict(), "iterations": r["iterations"],
            "n": {role: len(ds) for role, ds in parts.items()}, "val_curve": r["val_curve"],
            "best_val_accuracy": r["best_val_accuracy"],
            "test": {k: r["test"][k] for k in ("accuracy", "macro_f1", "confusion", "accuracy_without_twins", "n")},
            "speed": speed, "speed_base": speed_base,
            "train_time_vs_base": round(speed["train_ms_per_batch"] / speed_base["train_ms_per_batch"], 3)}


# --------------------------------------------------------------------------- runner


def commit_file(path: Path, message: str, *, attempts: int = 30, wait: float = 2.0) -> bool:
    """``git add`` and ``git commit -- path`` in the repository holding ``path``; retries while
    another git command holds ``.git/index.lock``. Returns False when ``path`` is not in a git
    work tree; raises RuntimeError when git keeps failing."""
    import subprocess
    path = Path(path).resolve()
    top = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True)
    if top.returncode != 0:
        log.warning("%s: not in a git work tree; not committed", path)
        return False
    cwd = top.stdout.strip()
    err = ""
    for _ in range(attempts):
        add = subprocess.run(["git", "add", "--", str(path)], cwd=cwd, capture_output=True, text=True)
        if add.returncode == 0 and subprocess.run(["git", "diff", "--cached", "--quiet", "--", str(path)],
                                                  cwd=cwd).returncode == 0:
            return True  # committed already, unchanged: nothing to do
        res = add if add.returncode else subprocess.run(
            ["git", "commit", "-q", "-m", message, "--", str(path)], cwd=cwd, capture_output=True, text=True)
        if res.returncode == 0:
            return True
        err = res.stderr + res.stdout
        if "index.lock" not in err:
            break
        time.sleep(wait)
    raise RuntimeError(f"git commit of {path} failed: {err.strip()[-500:]}")


def pending_units(budget_name: str, *, out="results", edge_model: str) -> list[Unit]:
    """Units of the budget whose result file is missing, in order."""
    return [u for u in list_units(budget_name, edge_model) if not result_path(out, budget_name, u).exists()]


def run_units(budget_name: str = "paper", *, out="results", data_root=None, device: str = "cpu",
              max_units: int | None = None, hours: float | None = None, only: list[str] | None = None,
              experiments: list[str] | None = None, commit: bool = True, progress: bool = False,
              announce=None) -> list[dict]:
    """Run pending units in order, one at a time under the heavy lock; commit each result file.

    ``max_units``: stop after that many; ``hours``: start no unit whose estimate (what is left of
    it, for a unit a killed run began) would end past that many hours from now: such a unit is
    skipped and a later, shorter one may still run; ``only``: these unit names;
    ``experiments``: only units of these experiments. ``announce(text)`` receives the plan and
    each unit's start, for the CLI to print. Returns the finished units' records.
    """
    from edgefer.cpu import heavy_lock
    say = announce or (lambda text: log.info("%s", text))
    plan = plan_for(budget_name, out=out, data_root=data_root)
    if commit and budget_name == "paper":
        commit_file(unit_dir(out, budget_name) / PLAN, f"{budget_name} budget: plan (edge CNN "
                    f"{plan['edge_model']}, unit estimates on {machine_label(plan['provenance']['machine'])})")
    todo = pending_units(budget_name, out=out, edge_model=plan["edge_model"])
    if only:
        known = {u.name for u in list_units(budget_name, plan["edge_model"])}
        unknown = sorted(set(only) - known)
        if unknown:
            raise ValueError(f"unknown unit(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}")
        todo = [u for u in todo if u.name in only]
    if experiments:
        todo = [u for u in todo if u.experiment in experiments]
    edge = plan["edge_model"]  # table1 (no model) is scaled by the edge CNN's factor
    factors, why = {}, "no unit pending"
    if todo and device == "cpu":
        with heavy_lock("edgefer units: timing the pending units' models against the plan"):
            factors, why = speed_factors(plan, budget_name, models=[u.model or edge for u in todo])
    elif todo:
        why = f"estimates from the plan's {machine_label(plan['provenance']['machine'])} (not scaled for {device})"
    planned = {p["name"]: p for p in plan["units"]}
    est = {}  # minutes left of each pending unit here: a killed run's iterations are done
    for u in todo:
        p = planned.get(u.name, {})
        left_share = 1 - min(1.0, iterations_done(out, budget_name, u.name) / p["iterations"]) \
            if p.get("iterations") else 1.0
        factor = factors.get(u.model or edge, factors.get(edge, 1.0))
        est[u.name] = round(p.get("est_minutes", 0) * factor * left_share, 1)
    here = _precision(budget_for("fig5", budget_name)) if device == "cpu" else plan["precision"]
    say(f"{budget_name} budget: edge CNN {plan['edge_model']} ({plan['rule']}); units started here train in "
        f"{here}; {len(todo)} unit(s) pending, estimated "
        f"{sum(est.get(u.name, 0) for u in todo) / 60:.1f} h here ({why})")
    done, skipped, t_start = [], [], time.time()
    for u in todo:
        if max_units is not None and len(done) >= max_units:
            break
        left = None if hours is None else hours * 60 - (time.time() - t_start) / 60
        if left is not None and est.get(u.name, 0) > left:
            say(f"skip: {u.name} is estimated at {est.get(u.name, 0):.0f} min here, {left:.0f} min left")
            skipped.append(u.name)
            continue
        say(f"unit {u.name}: estimated {est.get(u.name, 0):.0f} min")
        with heavy_lock(f"edgefer units: {u.name}"):
            rec = run_unit(u, budget_name, out=out, data_root=data_root, device=device, progress=progress,
                           plan=plan)
        if commit:
            commit_file(result_path(out, budget_name, u),
                        f"{budget_name} unit {u.name}: {rec['time']['wall_hours']:.2f} h on "
                        f"{machine_label(rec['provenance']['machine'])}")
        done.append(rec)
        say(f"unit {u.name} done in {rec['time']['wall_hours']:.2f} h")
    if skipped and not done:
        short = min(skipped, key=lambda name: est.get(name, 0))
        say(f"no pending unit fits in {hours:g} h here; the shortest is {short} ({est.get(short, 0):.0f} min): "
            f"run it with --only {short} (a killed unit resumes from its checkpoint)")
    return done


# --------------------------------------------------------------------------- aggregation


def load_units(budget_name: str, *, out="results") -> tuple[dict | None, dict[str, dict]]:
    """(plan or None, ``{unit name: record}``) of the unit files present."""
    d = unit_dir(out, budget_name)
    plan = json.loads((d / PLAN).read_text()) if (d / PLAN).exists() else None
    recs = {}
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        if p.name == PLAN:
            continue
        try:
            recs[p.stem] = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not valid JSON ({exc}); delete it to run the unit again") from exc
    return plan, recs


def status(budget_name: str = "paper", *, out="results") -> dict:
    """``{experiment: {"done": [...], "pending": [...]}}`` and the plan's edge CNN (None before the plan)."""
    plan, recs = load_units(budget_name, out=out)
    edge = plan["edge_model"] if plan else "edgecnn"
    by = {}
    for u in list_units(budget_name, edge):
        by.setdefault(u.experiment, {"done": [], "pending": []})["done" if u.name in recs else "pending"].append(u.name)
    return {"edge_model": plan["edge_model"] if plan else None, "experiments": by}


def aggregate(budget_name: str = "paper", *, out="results") -> dict[str, Path]:
    """Write ``<out>/<experiment>.json`` for each experiment whose units are all done, or done far
    enough for a claim (:func:`least_units`: CV's grouped folds, Fig. 6's edge CNN, the ablation's
    base), its ``units_pending`` naming the rest; returns the files written. A result file of
    another budget in its place is first moved to ``<out>/<its budget>/<experiment>.json``, so
    nothing earlier is lost."""
    plan, recs = load_units(budget_name, out=out)
    if plan is None:
        return {}
    st = status(budget_name, out=out)["experiments"]
    least = least_units(budget_name, plan["edge_model"])
    written = {}
    # each builder gets its experiment's unit records and all of them (CV's fold 1 is Fig. 5's
    # edge CNN run; Table 1 compares with the Fig. 5 units' wall time)
    builders = {"table1": _agg_table1, "fig5": _agg_fig5, "cv": _agg_cv, "fig6": _agg_fig6,
                "ablation": _agg_ablation}
    for exp, build in builders.items():
        done, pending = st.get(exp, {}).get("done", []), st.get(exp, {}).get("pending", [])
        if not done or (pending and (exp not in least or not set(least[exp]) <= set(recs))):
            continue
        result = build(budget_name, plan, {n: recs[n] for n in done}, Path(out), recs)
        result["units_pending"] = pending
        written[exp] = _write_aggregate(Path(out), exp, budget_name, plan, result)
    return written


def least_units(budget_name: str, edge_model: str) -> dict[str, list[str]]:
    """Experiment -> the units after which it gets a result file while others are pending: CV's
    grouped folds (C6a), Fig. 6's edge CNN (C7: the mix's sizes), the ablation's base over every
    seed. Table 1 and Fig. 5 are written only complete."""
    need = claim_units(budget_name, edge_model)
    return {"cv": need["C6a"], "fig6": need["C7"], "ablation": [n for n in need["C9"] if n.endswith("-base")]}


def _write_aggregate(out: Path, exp: str, budget_name: str, plan: dict, result: dict) -> Path:
    from edgefer.results import provenance, write_json
    path = out / f"{exp}.json"
    old = None
    if path.exists():
        old = json.loads(path.read_text())
        old_budget = old.get("budget", {}).get("name")
        if old_budget and old_budget != budget_name:
            keep = out / old_budget / f"{exp}.json"
            keep.parent.mkdir(parents=True, exist_ok=True)
            path.replace(keep)
            log.info("moved %s (%s budget) to %s", path, old_budget, keep)
            old = None
    b = budget_for(exp, budget_name)
    done = result.pop("_units")
    # each unit trains in its machine's precision (bf16 where native, else fp32): say both when they mix
    precision = " and ".join(sorted({r["precision"] for r in done.values() if r.get("precision")})) \
        or plan["precision"]
    if result.get("training") and " and " in precision:
        result["training"] = {**result["training"], "precision": f"{precision} by machine (see the units table)"}
    result = {"experiment": exp, "budget": b.to_dict(), "seed": 0, "device": "cpu",
              "command": f"edgefer units --budget {budget_name} --experiment {exp}", "paper": PAPER.get(exp, {}),
              "units_of": budget_name, "edge_model": plan["edge_model"], "precision": precision,
              "loss": main_loss(b), **result,
              "unit_time": {n: r["time"] for n, r in sorted(done.items())},
              # where each unit trained: the provenance below is the aggregation's machine, not theirs
              "unit_machines": {n: machine_label(r["provenance"]["machine"]) for n, r in sorted(done.items())},
              "provenance": provenance(budget=budget_name, experiment=exp, plan=plan["rule"])}
    if old is not None and _same_but_provenance(old, result):
        return path  # the same units give the same file: no new commit and time in the diff
    return write_json(path, result)


def _same_but_provenance(old: dict, new: dict) -> bool:
    """Whether two result records agree on everything but their provenance (compared as JSON)."""
    strip = lambda r: json.loads(json.dumps({k: v for k, v in r.items() if k != "provenance"}))  # noqa: E731
    return strip(old) == strip(new)


def _agg_table1(budget_name, plan, recs, out, every) -> dict:
    r = recs["table1"]
    p = r["precision"]
    rows = {m: {**v[p], "fp32_train_ms_per_batch": v["fp32"]["train_ms_per_batch"],
                "fp32_infer_ms_per_batch": v["fp32"]["infer_ms_per_batch"]} for m, v in r["models"].items()}
    fig5 = out / "fig5.json"
    recog = {}
    if fig5.exists():
        f = json.loads(fig5.read_text())
        recog = {m: (s.get("test_accuracy"), f["budget"]["name"]) for m, s in f.get("summary", {}).items()}
    for m, row in rows.items():
        row["recognition_rate"], row["recognition_rate_budget"] = recog.get(m, (None, None))
    edge = plan["edge_model"]
    speedup = {c: {"train": round(rows[c]["train_ms_per_batch"] / rows[edge]["train_ms_per_batch"], 3),
                   "test": round(rows[c]["infer_ms_per_batch"] / rows[edge]["infer_ms_per_batch"], 3)}
               for c in CONTRAST}
    result = {"batch": r["batch"], "models": rows, "speedup_vs_edge": speedup,
              "measured_on": r["provenance"]["machine"], "split": {},
              "data": {"inputs": "random tensors (timing only)"}, "_units": recs}
    real = _fig5_wall_per_iteration(every, [edge, *CONTRAST], r["provenance"]["machine"])
    if edge in real and all(c in real for c in CONTRAST):
        result["fig5_units_ms_per_iteration"] = real
        result["fig5_units_speedup_vs_edge"] = {c: round(real[c] / real[edge], 3) for c in CONTRAST}
    return result


def _fig5_wall_per_iteration(every: dict, models: list[str], machine: dict) -> dict[str, float]:
    """Wall milliseconds per training iteration of the Fig. 5 units (their whole run: training,
    the per-epoch curves and the final scoring) of these models that ran on the same kind of
    machine as Table 1 (CPU name, cores and SIMD): its per-batch timing checked against real
    training."""
    ms = {}
    for m in models:
        u = every.get(f"fig5-{m}")
        if u is not None and machine_kind(u["provenance"]["machine"]) == machine_kind(machine) and u.get("iterations"):
            ms[m] = round(1000 * u["time"]["wall_seconds"] / u["iterations"], 1)
    return ms


def model_key(rec: dict) -> str:
    """A unit's model in an experiment's summary: the model's name, with ``-<loss>`` for a unit
    trained with another loss than the budget's main one (``rcnn-ce``)."""
    return rec["model"] + (f"-{rec['loss_variant']}" if rec.get("loss_variant") else "")


def one_class_share(confusion) -> float | None:
    """The largest share of predictions that fall in one class (1.0: a model that says one
    thing whatever it sees); None without a confusion matrix."""
    if not confusion:
        return None
    cols = np.asarray(confusion, dtype=float).sum(axis=0)
    return round(float(cols.max() / cols.sum()), 4) if cols.sum() else None


def _agg_fig5(budget_name, plan, recs, out, every) -> dict:
    from edgefer.evaluate.plots import plot_confusions, plot_curves
    models = {model_key(r): r for r in recs.values()}
    summary = {}
    for m, r in models.items():
        c = r["curves"]
        tc, hc = c["train_sample_convergence"], c["heldout_sample_convergence"]
        summary[m] = {"model": r["model"], "test_accuracy": r["heldout"]["accuracy"],
                      "test_macro_f1": r["heldout"]["macro_f1"], "loss": r["config"]["loss"],
                      "one_class_share": one_class_share(r["heldout"]["confusion"]),
                      "train_accuracy": r["train_sample_accuracy"], "iterations": r["iterations"],
                      "input_size": r["input_size"],
                      # Fig. 5 plots training-set accuracy: its convergence is read on that curve
                      "converged_at_iteration": tc["iteration"], "converged_before_end": tc["before_end"],
                      "heldout_converged_at_iteration": hc["iteration"],
                      "heldout_converged_before_end": hc["before_end"],
                      "wall_hours": r["time"]["wall_hours"], "precision": r["precision"]}
    plots = {"accuracy": "fig5.png", "train_accuracy": "fig5_train.png"}
    plot_curves({f"{m} ({r['config']['loss'].upper()}, held-out sample)": (r["curves"]["iteration"],
                                                                        r["curves"]["heldout_sample_accuracy"])
                 for m, r in models.items()}, out / plots["accuracy"], xlabel="iteration (batch 48)",
                ylabel="accuracy on 2,000 held-out images", title=f"Fig. 5, fold 1 ({budget_name} budget)")
    plot_curves({f"{m} ({r['config']['loss'].upper()}, training sample)": (r["curves"]["iteration"],
                                                                        r["curves"]["train_sample_accuracy"])
                 for m, r in models.items()}, out / plots["train_accuracy"], xlabel="iteration (batch 48)",
                ylabel="accuracy on 2,000 training images", title=f"Fig. 5, fold 1 ({budget_name} budget)")
    plots["confusion"] = plot_confusions({m: r["heldout"] for m, r in models.items()}, out, "fig5", "fold 1 held out")
    any_r = next(iter(models.values()))
    data = {"n_pool": any_r["n_pool"], "n_train": any_r["n_train"], "n_heldout": any_r["n_heldout"],
            "n_train_sample": any_r["n_train_sample"], "n_heldout_sample": any_r["n_heldout_sample"]}
    return {"protocol": "fold 1 of the grouped 3-fold split of all FER-2013 images", "models_run": list(models),
            "training": models[plan["edge_model"]]["config"],
            "split": {"train": "folds 2-3", "test": "fold 1 (held out)"}, "data": data, "summary": summary,
            "models": {m: {k: v for k, v in r.items() if k not in ("budget", "provenance")} for m, r in models.items()},
            "plots": plots, "_units": recs}


def _cv_stats(folds: list[dict]) -> dict:
    accs = np.array([f["heldout"]["accuracy"] for f in folds])
    f1 = np.array([f["heldout"]["macro_f1"] for f in folds])
    return {"accuracy_mean": float(accs.mean()), "accuracy_std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
            "macro_f1_mean": float(f1.mean()),
            "per_fold": [{"fold": f["fold"], "accuracy": f["heldout"]["accuracy"], "macro_f1": f["heldout"]["macro_f1"],
                          "n_train": f["n_train"], "n_test": f["n_heldout"], "iterations": f["iterations"],
                          "model": f["model"], "input_size": f["input_size"]} for f in folds]}


def _agg_cv(budget_name, plan, recs, out, every) -> dict:
    fig5_fold1 = every.get(f"fig5-{plan['edge_model']}")
    grouped = ([fig5_fold1] if fig5_fold1 else []) + [recs[f"cv-fold{f}"] for f in (2, 3)]
    # random folds and the standard protocol join the file once all their units are done
    random = [recs[f"rcv-fold{f}"] for f in (1, 2, 3)] if all(f"rcv-fold{f}" in recs for f in (1, 2, 3)) else []
    std = recs.get("cv-standard")
    g = _cv_stats(grouped)
    summary = {"cv_accuracy_mean": g["accuracy_mean"], "cv_accuracy_std": g["accuracy_std"],
               "cv_macro_f1_mean": g["macro_f1_mean"], "complete_grouped": len(grouped) == FOLDS}
    result = {"folds": FOLDS, "training": grouped[-1]["config"], "summary": summary, "cv": g,
              "split": {"cv": "3 folds over train+publictest+privatetest pooled (grouped and random)",
                        "standard": "train -> publictest (epoch choice) -> privatetest"}}
    data = {"n_pooled": grouped[0]["n_pool"]}
    if random:
        r = _cv_stats(random)
        summary.update(random_cv_accuracy_mean=r["accuracy_mean"], random_cv_accuracy_std=r["accuracy_std"],
                       random_minus_grouped=r["accuracy_mean"] - g["accuracy_mean"])
        result["random_cv"] = r
    if std is not None:
        summary.update(standard_test_accuracy=std["test"]["accuracy"],
                       standard_test_accuracy_without_twins=std["test"]["accuracy_without_twins"],
                       standard_test_macro_f1=std["test"]["macro_f1"])
        data.update(n=std["n"], test_with_twin_in_training=std["test_with_twin_in_training"])
        result.update(training=std["config"],
                      standard={k: v for k, v in std.items() if k not in ("budget", "provenance")})
    from edgefer.evaluate.plots import plot_confusion
    plots = {}
    for key, file, folds, what in (("confusion_cv", "cv_confusion_folds.png", grouped, "grouped folds'"),
                                   ("confusion_random", "cv_confusion_random.png", random, "random folds'")):
        if folds:  # the held-out folds pooled
            total = np.sum([f["heldout"]["confusion"] for f in folds], axis=0)
            plots[key] = file
            plot_confusion(total, out / file, title=f"{len(folds)} {what} held-out images ({int(total.sum()):,}): "
                                                    f"accuracy {np.trace(total) / total.sum():.3f}")
    if std is not None:
        plots["confusion_standard"] = "cv_confusion_standard.png"
        plot_confusion(std["test"]["confusion"], out / plots["confusion_standard"],
                       title=f"Training -> PrivateTest: accuracy {std['test']['accuracy']:.3f}")
    units = dict(recs)
    if fig5_fold1:
        units[fig5_fold1["unit"]] = fig5_fold1
    return {**result, "data": data, "plots": plots, "_units": units}


def _agg_fig6(budget_name, plan, recs, out, every) -> dict:
    from edgefer.experiments.fig6 import plot_mix
    models = {model_key(r): r for r in recs.values()}
    summary = {m: {"model": r["model"], "test_accuracy": r["final"]["accuracy"],
                   "test_macro_f1": r["final"]["macro_f1"],
                   "loss": r["config"]["loss"], "one_class_share": one_class_share(r["final"].get("confusion")),
                   "test_accuracy_per_source": {s: v["accuracy"] for s, v in r["final"]["per_source"].items()},
                   "test_macro_f1_per_source": {s: v["macro_f1"] for s, v in r["final"]["per_source"].items()},
                   "test_accuracy_last5": last_epochs_mean(r.get("epochs")),
                   "epochs": r["final"]["epoch"], "iterations": r["iterations"], "input_size": r["input_size"]}
               for m, r in models.items()}
    plots = plot_mix(models, plan["edge_model"], out, budget_name)
    any_r = next(iter(models.values()))
    data = {**any_r["mix"], "fer_per_class_cap": any_r["fer_per_class_cap"], "lfw_sample": None,
            "lfw_legend_skipped": any_r["lfw_legend_skipped"], "detection": {str(any_r["input_size"]): any_r["detection"]}}
    return {"training": models[plan["edge_model"]]["config"], "data": data, "summary": summary,
            "models": {m: {k: v for k, v in r.items() if k not in ("budget", "provenance")} for m, r in models.items()},
            "split": {"train": "80% of the mix", "test": "20% of the mix", "stratified_by": "class and source"},
            "plots": plots, "_units": recs}


def _time_vs_base(seeds: dict, name: str) -> float | None:
    """Median over seeds of a variant's training time per batch over the base net's, both timed in
    the same unit (so on one machine, in one precision); 1.0 for the base. None when a unit
    predates that timing (``speed_base``) and its net is not the base's."""
    if name == "base":
        return 1.0
    ratios = [s.get("train_time_vs_base") for s in seeds.values()]
    return None if any(r is None for r in ratios) else float(np.median(ratios))


def never_trained(rec: dict, largest_class: float | None) -> bool | None:
    """Whether an ablation unit's net never left one class (at least ``ONE_CLASS`` of its PrivateTest
    predictions in one class). A unit recorded before its confusion matrix was kept is judged by a
    bound: a net with a share ``s`` of its predictions in one class is right on at most ``1 - s``
    of the others plus that class's share ``p`` of the test set, so ``s <= 1 - accuracy + p``;
    None when that bound cannot rule it out."""
    share = one_class_share(rec["test"].get("confusion"))
    if share is not None:
        return share >= ONE_CLASS
    if largest_class is None:
        return None
    return None if 1 - rec["test"]["accuracy"] + largest_class >= ONE_CLASS else False


def _agg_ablation(budget_name, plan, recs, out, every) -> dict:
    by: dict[str, dict] = {}
    for r in recs.values():
        by.setdefault(r["variant"], {})[r["seed"]] = r
    seeds_all = set(budget_for("ablation", budget_name).seeds)
    by = {v: seeds for v, seeds in by.items() if set(seeds) == seeds_all}  # a variant joins with all its seeds
    recs = {n: r for n, r in recs.items() if r["variant"] in by}
    base = by["base"]
    # the test set's largest class share (all variants test on the same PrivateTest images)
    known = [np.asarray(r["test"]["confusion"]).sum(axis=1) for r in recs.values() if r["test"].get("confusion")]
    largest = float(known[0].max() / known[0].sum()) if known else None
    summary = {}
    for name, seeds in by.items():
        accs = np.array([seeds[s]["test"]["accuracy"] for s in sorted(seeds)])
        deltas = np.array([seeds[s]["test"]["accuracy"] - base[s]["test"]["accuracy"] for s in sorted(seeds) if s in base])
        any_r = next(iter(seeds.values()))
        stuck = {s: never_trained(r, largest) for s, r in seeds.items()}
        summary[name] = {"group": any_r["group"], "change": any_r["change"], "model": any_r["model"],
                         "model_kwargs": any_r["model_kwargs"], "loss": any_r["loss"], "equalize": any_r["equalize"],
                         "input_size": any_r["input_size"], "seeds": sorted(seeds),
                         "test_accuracy": float(accs.mean()), "test_accuracy_std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
                         "test_accuracy_per_seed": accs.tolist(),
                         "delta_test_accuracy_vs_base": float(deltas.mean()) if len(deltas) else None,
                         "delta_per_seed": deltas.tolist(),
                         "test_macro_f1": float(np.mean([s["test"]["macro_f1"] for s in seeds.values()])),
                         "best_val_accuracy": float(np.mean([s["best_val_accuracy"] for s in seeds.values()])),
                         "train_ms_per_batch": float(np.median([s["speed"]["train_ms_per_batch"] for s in seeds.values()])),
                         "infer_ms_per_batch": float(np.median([s["speed"]["infer_ms_per_batch"] for s in seeds.values()])),
                         "train_time_vs_base": _time_vs_base(seeds, name),
                         "one_class_share_per_seed": [one_class_share(seeds[s]["test"].get("confusion"))
                                                      for s in sorted(seeds)],
                         "never_trained_seeds": [s for s in sorted(seeds) if stuck[s]],
                         "unknown_training_seeds": [s for s in sorted(seeds) if stuck[s] is None],
                         "machines": sorted({machine_label(s["provenance"]["machine"]) for s in seeds.values()}),
                         "precision_per_seed": [seeds[s].get("precision") for s in sorted(seeds)]}
    any_r = next(iter(recs.values()))
    return {"edge_model": budget_for("ablation", budget_name).edge_model, "training": base[min(base)]["config"],
            "bench_batch": 48, "data": {"n": any_r["n"]}, "summary": summary,
            "split": {"train": "train (Training)", "val": "publictest (every epoch)",
                      "test": "privatetest (once, best epoch by publictest)"}, "_units": recs}
