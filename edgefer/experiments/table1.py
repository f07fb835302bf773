"""Table 1: time per batch of 48 images, training and testing, and recognition rate, per model.

Times are medians of timed batches (forward, backward and SGD update for training; forward
in eval mode for testing) on random inputs, measured by :func:`edgefer.bench.model_speed` on
this machine; the recognition rate is each model's PrivateTest accuracy from ``fig5.json``
when that experiment has been run (with its budget), else missing.

The paper's abstract: its method trains about 1.5 times as fast as the contrast algorithm.
"""
from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path

from edgefer.experiments import fig5
from edgefer.experiments._common import budget_for, run_dir, write_result

log = logging.getLogger(__name__)

NAME = "table1"


def models_for(budget) -> list[str]:
    """fig5's models; beyond smoke also the edge CNN at the other input size, for reference."""
    names = fig5.models_for(budget)
    if budget.name != "smoke":
        other = "edgecnn48" if budget.edge_model == "edgecnn" else "edgecnn"
        names.append(other)
    return names


def _speed(name: str, budget, device: str) -> dict:
    from edgefer.bench import model_speed
    kwargs = {"batch": budget.bench_batch, "repeats": budget.bench_repeats, "precision": "fp32"}
    if "device" in inspect.signature(model_speed).parameters:
        kwargs["device"] = device
        measured_on = device
    else:
        measured_on = "cpu"
    return {**model_speed(name, **kwargs), "device": measured_on, "repeats": budget.bench_repeats}


def _recognition(out: Path) -> dict:
    path = out / "fig5.json"
    if not path.exists():
        return {}
    res = json.loads(path.read_text())
    return {m: {"accuracy": s["test_accuracy"], "budget": res["budget"]["name"], "source": "fig5.json"}
            for m, s in res.get("summary", {}).items()}


def run(budget="reduced", *, data_root=None, out="results", device: str = "cpu", seed: int = 0,
        progress: bool = False) -> dict:
    """Time each model and write ``out/table1.json``; timings already measured here are reused.

    ``data_root`` and ``seed`` are accepted for a uniform interface; timing uses random inputs.
    """
    from edgefer.results import machine, write_json

    b = budget_for(NAME, budget)
    out = Path(out)
    this_machine = machine()
    rows = {}
    for name in models_for(b):
        path = run_dir(out, b, NAME, name).with_suffix(".json")
        key = {"model": name, "batch": b.bench_batch, "repeats": b.bench_repeats, "device": device,
               "cpu": this_machine["cpu"], "torch_threads": this_machine["torch_threads"]}
        found = json.loads(path.read_text()) if path.exists() else None
        if found is None or found.get("key") != key:
            log.info("timing %s", name)
            found = {"key": key, **_speed(name, b, device)}
            write_json(path, found)
        rows[name] = {k: v for k, v in found.items() if k != "key"}
    recog = _recognition(out)
    for name, row in rows.items():
        r = recog.get(name)
        row["recognition_rate"] = None if r is None else r["accuracy"]
        row["recognition_rate_budget"] = None if r is None else r["budget"]
    edge = rows[b.edge_model]
    speedup = {c: {"train": round(rows[c]["train_ms_per_batch"] / edge["train_ms_per_batch"], 3),
                   "test": round(rows[c]["infer_ms_per_batch"] / edge["infer_ms_per_batch"], 3)}
               for c in fig5.CONTRAST}
    data = {"inputs": "random tensors (timing only)", "recognition_rate_from": "fig5.json" if recog else None}
    result = {"edge_model": b.edge_model, "batch": b.bench_batch, "models": rows,
              "speedup_vs_edge": speedup,
              "split": {"recognition_rate": "privatetest (from fig5)" if recog else None},
              "data": data}
    return write_result(out, NAME, result, budget=b, seed=seed, device=device, data=data)
