"""The paper's experiments as functions that write result JSON and plots; REPORT.md is generated from them.

Each experiment module has ``run(budget, *, data_root, out, device, seed) -> dict``, which
writes ``<out>/<name>.json`` (every number, with data, split, budget, seed, commit and machine)
and its PNG plots, and resumes: finished training runs are reused, an interrupted one continues
from its last checkpoint. Budgets (``smoke``, ``reduced``, ``full``) are described in
:mod:`edgefer.experiments._common`.

==========  ====================================================================
fig5        accuracy against iterations on FER-2013: edge CNN, R-CNN, FRR-CNN
table1      time per batch of 48 (train, test) and recognition rate
cv          the paper's 3-fold cross-validation beside the standard protocol
fig6        complex background: FER-2013 mixed with LFW photos
ablation    edge fusion, loss, input size, equalization, pooling
==========  ====================================================================
"""
from __future__ import annotations

from edgefer.experiments._common import (
    BUDGET_NAMES, BUDGETS, EXPERIMENTS, PAPER, Budget, budget_for, convergence_iteration, stratified_subsample,
)
from edgefer.experiments.report import claims, load_results, render, write_report


def run_experiment(name: str, budget="reduced", *, data_root=None, out="results", device: str = "cpu",
                   seed: int = 0, progress: bool = False) -> dict:
    """Run the experiment called ``name`` (one of :data:`EXPERIMENTS`); see each module's ``run``."""
    import importlib
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")
    module = importlib.import_module(f"edgefer.experiments.{name}")
    return module.run(budget, data_root=data_root, out=out, device=device, seed=seed, progress=progress)


__all__ = [
    "BUDGETS", "BUDGET_NAMES", "Budget", "EXPERIMENTS", "PAPER", "budget_for", "claims", "convergence_iteration",
    "load_results", "render", "run_experiment", "stratified_subsample", "write_report",
]
