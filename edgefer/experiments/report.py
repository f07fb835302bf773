"""REPORT.md from the experiments' result JSON: a claims table, then one section per experiment.

Every number in the report is read from a result file (``<results>/<experiment>.json``) or is
the paper's; an experiment without a result file is listed as *not run yet* with the command
that runs it. Verdicts follow fixed rules, stated beside each claim:

* accuracy claims (85.54%, 88.56%): *supported* when ours is at most one point below the
  paper's; below that, *not supported* at the full budget and *not testable as stated* at a
  smaller one (it trains less than the paper);
* comparisons ("A is more accurate than B"): *supported* when A leads by at least one point
  (one seed; smaller gaps are within run-to-run noise), else *not supported*;
* speed claims: measured per batch of 48 on this machine, as stated in each row.
"""
from __future__ import annotations

import json
import logging
import os
import statistics
from pathlib import Path

from edgefer.experiments._common import BUDGETS, EXPERIMENTS, LAST_EPOCHS, ONE_CLASS, PAPER, last_epochs_mean
from edgefer.results import machine_label

log = logging.getLogger(__name__)

TITLES = {
    "fig5": "Fig. 5: accuracy against iterations on FER-2013",
    "table1": "Table 1: time per batch of 48 and recognition rate",
    "cv": "Protocols: the paper's 3-fold cross-validation and the standard split",
    "fig6": "Fig. 6: complex background (FER-2013 mixed with LFW)",
    "ablation": "Ablation: edge fusion, loss, input size, equalization, pooling",
}
WHAT = {
    "fig5": "The edge-fused CNN, R-CNN and FRR-CNN trained on FER-2013 Training (batch 48); accuracy on "
            "PublicTest after every epoch is the curve, each model's best epoch on PublicTest is scored "
            "once on PrivateTest. A model converges at the first point after which its accuracy stays "
            "within one point of its final value.",
    "table1": "Median time of a training step (forward, backward, SGD update) and of a test forward pass "
              "on a batch of 48, per model, on this machine; recognition rate from fig5.",
    "cv": "The paper's protocol, 3-fold cross-validation over all FER-2013 images with identical twins "
          "kept in one fold (last epoch's model per fold), beside the standard protocol (train on "
          "Training, choose the epoch on PublicTest, report PrivateTest).",
    "fig6": "FER-2013 crops (capped per class) mixed with LFW news photos labelled by legend.csv; the "
            "photos go through Haar detection, crop, bilinear scaling and equalization. 80/20 split "
            "stratified by class and source; test accuracy after every epoch, overall, per source and "
            "per class; the last epoch's numbers are reported.",
    "ablation": "One change at a time from the edge CNN (feature fusion, cross-entropy, equalization, "
                "max pooling), same data and epochs; PrivateTest accuracy of the best epoch on PublicTest, "
                "and time per training batch (median of timed batches right after each run, with the torch threads in the provenance; another experiment may have shared the machine; "
                "at the paper budget, whose seeds may run on different machines, as the ratio to the base net timed in the same unit).",
}
DEFAULT_BUDGET = "reduced"
ONE_POINT = 0.01
OWN_BUDGETS = ("full", "paper")
"""Budgets that train as much as the paper: a shortfall there is a verdict, not a budget's limit."""


def load_results(results_dir) -> dict[str, dict]:
    """``{experiment: result}`` for every ``<results_dir>/<experiment>.json`` present."""
    out = {}
    for name in EXPERIMENTS:
        path = Path(results_dir) / f"{name}.json"
        if path.exists():
            try:
                out[name] = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                log.warning("%s: not valid JSON (%s); treated as not run", path, exc)
    return out


def run_command(name: str, budget: str = DEFAULT_BUDGET) -> str:
    """The command that runs an experiment."""
    return f"edgefer experiment {name} --budget {budget}"


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def _num(x, fmt: str = "{:,}") -> str:
    return "–" if x is None else fmt.format(x)


# --------------------------------------------------------------------------- claims


def _not_run(cid: str, claim: str, paper: str, experiment: str) -> dict:
    cmd = run_command(experiment)
    return {"id": cid, "claim": claim, "paper": paper, "ours": "not run yet", "budget": "–", "command": cmd,
            "verdict": "not run yet", "why": f"run `{cmd}`, then `edgefer report`", "experiment": experiment}


def _row(cid, claim, paper, ours, res, verdict, why) -> dict:
    if res["budget"]["name"] == "smoke":
        verdict, why = "not testable as stated", "smoke budget: a plumbing check whose numbers mean nothing; " \
            f"run `{run_command(res['experiment'])}`"
    return {"id": cid, "claim": claim, "paper": paper, "ours": ours, "budget": res["budget"]["name"],
            "command": res["command"], "verdict": verdict, "why": why, "experiment": res["experiment"]}


def _accuracy_claim(cid, claim, paper_acc, ours, res, detail: str) -> dict:
    b = res["budget"]["name"]
    if ours is None:
        return _row(cid, claim, _pct(paper_acc), "–", res, "not testable as stated", "no number in the result")
    if ours >= paper_acc - ONE_POINT:
        verdict, why = "supported", f"ours is within one point of the paper's or above ({detail})"
    elif b in OWN_BUDGETS:
        verdict, why = "not supported", f"{100 * (paper_acc - ours):.1f} points below the paper at its own budget ({detail})"
    else:
        verdict = "not testable as stated"
        why = f"the {b} budget trains less than the paper ({detail}); rerun with --budget full"
    return _row(cid, claim, _pct(paper_acc), _pct(ours), res, verdict, why)


def _means(a_name, a, std_a, b_name, b, std_b, seeds: int) -> str:
    """``a 53.59% ± 1.36 vs b 49.94% ± 1.79 (mean ± std of 2 seeds)``; no ± with one seed."""
    pm = lambda sd: "" if sd is None or seeds < 2 else f" ± {100 * sd:.2f}"  # noqa: E731
    ours = f"{a_name} {_pct(a)}{pm(std_a)} vs {b_name} {_pct(b)}{pm(std_b)}"
    return ours + (f" (mean ± std of {seeds} seeds)" if seeds > 1 else "")


def _compare(cid, claim, paper, a_name, a, b_name, b, res, unit: str = "accuracy", *, seeds: int = 1,
             paired=None, std_a=None, std_b=None) -> dict:
    """A leads B: by at least one point (mean over seeds), and with several seeds in every seed."""
    if a is None or b is None:
        return _row(cid, claim, paper, "–", res, "not testable as stated", f"{a_name} or {b_name} missing")
    gap = a - b
    ours = _means(a_name, a, std_a, b_name, b, std_b, seeds)
    every = paired is None or all(d > 0 for d in paired)
    if gap >= ONE_POINT and every:
        return _row(cid, claim, paper, ours, res, "supported", f"{a_name} leads by {100 * gap:.1f} points"
                    + (f", in each of the {seeds} seeds" if seeds > 1 else ""))
    why = (f"{a_name} {'trails' if gap < 0 else 'leads only'} by {100 * abs(gap):.1f} points "
           f"(a lead of at least one point is required; {'one seed' if seeds < 2 else f'mean of {seeds} seeds'})")
    if gap >= ONE_POINT and not every:
        why = f"{a_name} leads by {100 * gap:.1f} points on average but not in every seed ({seeds})"
    return _row(cid, claim, paper, ours, res, "not supported", why)


def _last_epochs_reading(res: dict, c8: tuple, edge: str, contrast: list[str], verdict: str) -> tuple[str, str]:
    """C8's second reading: the same comparison on the mean of each model's last five epochs, since
    at a constant learning rate a model's test accuracy swings by several points from epoch to
    epoch and the last epoch alone can land high or low. Reads each model's ``test_accuracy_last5``
    from the summary, or its epochs where the summary predates that field. Says whether it agrees
    with the verdict, which reads the last epoch. Returns that text for the row's reasoning and, where
    the two readings disagree, a short caveat for the README's verdict cell (else ""); ("", "") when a
    model has fewer than five scored epochs."""
    summary, models = res.get("summary") or {}, res.get("models") or {}

    def mean(m):
        kept = (summary.get(m) or {}).get("test_accuracy_last5")
        return kept if kept is not None else last_epochs_mean((models.get(m) or {}).get("epochs"))

    means = {m: mean(m) for m in [edge, *contrast]}
    if any(v is None for v in means.values()):
        return "", ""
    others = {m: means[m] for m in contrast}
    best = max(others, key=others.get)
    gap = means[edge] - others[best]
    leads = _compare(*c8, edge, means[edge], best, others[best], res)["verdict"] == "supported"
    agree = leads == (verdict == "supported")
    listing = ", ".join(f"{m} {_pct(v)}" for m, v in means.items())
    lead = f"{edge} {'leads' if gap >= 0 else 'trails'} {best} by {100 * abs(gap):.1f} points"
    would = "would support" if leads else "would not support"
    caveat = "" if agree else f"at the last epoch; over the last {LAST_EPOCHS} epochs {lead}, which {would} it"
    return (f"; mean of each model's last {LAST_EPOCHS} epochs: {listing} ({lead}), "
            + ("which agrees with the last epoch's reading" if agree else
               f"which {would} the claim: the two readings disagree, and the verdict reads the last epoch")), caveat


def _seeds(seeds) -> str:
    return ", ".join(str(k) for k in seeds)


def _by_seed(summary: dict, key: str) -> dict:
    """A per-seed list of an ablation summary (``test_accuracy_per_seed``, ...) keyed by seed number."""
    return dict(zip(summary["seeds"], summary[key]))


def _trained_seeds(sa: dict, sb: dict, na: str, nb: str):
    """Two ablation runs' seeds in which both nets trained: ``((accuracies a, accuracies b), seeds
    kept, note)``, each list the run's PrivateTest accuracy in the kept seeds, in order; None when
    in no seed either never left one class (or the summaries predate that record). The note names
    which run did not train in which seed."""
    stuck = {na: set(sa.get("never_trained_seeds") or []), nb: set(sb.get("never_trained_seeds") or [])}
    out = stuck[na] | stuck[nb]
    if not out or "test_accuracy_per_seed" not in sa or "test_accuracy_per_seed" not in sb:
        return None
    kept = [k for k in sa["seeds"] if k in sb["seeds"] and k not in out]
    per_seed = lambda x: [_by_seed(x, "test_accuracy_per_seed")[k] for k in kept]  # noqa: E731
    who = [f"{n} never left one class in seed{'s' if len(stuck[n]) > 1 else ''} {_seeds(sorted(stuck[n]))}"
           for n in dict.fromkeys((na, nb)) if stuck[n]]
    note = f"{' and '.join(who)} (at least {ONE_CLASS:.0%} of its PrivateTest predictions in one class)"
    return (per_seed(sa), per_seed(sb)), kept, note


def _mixed_precision(sa: dict, sb: dict, na: str, nb: str, seeds) -> str:
    """A sentence naming the compared seeds in which the two runs trained in different precisions
    (a unit trains in bf16 where the CPU has it natively, else fp32), or "" when none did."""
    if "precision_per_seed" not in sa or "precision_per_seed" not in sb:
        return ""
    pa, pb = _by_seed(sa, "precision_per_seed"), _by_seed(sb, "precision_per_seed")
    mixed = [f"seed {k} compares {pa[k]} ({na}) with {pb[k]} ({nb})" for k in seeds
             if k in pa and k in pb and pa[k] and pb[k] and pa[k] != pb[k]]
    return "; " + ", ".join(mixed) + " (units ran on different machines)" if mixed else ""


def _contrast(summary: dict, name: str) -> tuple[str, dict | None, str]:
    """The contrast model to compare with: ``(name, its summary, note)``. Where ``name`` (trained
    with the main loss) never left one class, its cross-entropy run (``<name>-ce``) stands in if
    that one trained; the note says so. ``(name, None, note)`` when no trained run exists."""
    r = summary.get(name) or {}
    share = r.get("one_class_share")
    if share is None or share < ONE_CLASS:
        return name, r, ""
    what = (f"{name} trained with {r.get('loss', 'the main loss').upper()} never left one class ({share:.0%} of its "
            f"held-out predictions in one class, {_pct(r.get('test_accuracy'))})")
    alt = summary.get(f"{name}-ce")
    if alt and (alt.get("one_class_share") or 0) < ONE_CLASS:
        return f"{name}-ce", alt, f"{what}, so the comparison is with {name} trained with cross-entropy ({name}-ce)"
    return name, None, what


def claims(results: dict, pending: dict | None = None, earlier: dict | None = None) -> list[dict]:
    """The claims table: each paper claim, our number, the command and a verdict with its reason.

    ``pending``: ``{claim id: [unit, ...]}``, the paper budget's units the claim waits for
    (:func:`_pending`); a claim with such units, or with no result at the paper's own budget
    (paper or full), reads *pending* and names them, with the smaller budget's verdict beside:
    from ``results`` when its file is of a smaller budget, else from ``earlier`` (the results a
    partial paper-budget file moved aside, ``results/reduced/``).
    """
    rows = _claims(results)
    if pending is None:
        return rows
    before_rows = {r["id"]: r for r in _claims(earlier)} if earlier else {}
    for r in rows:
        res = results.get(r["experiment"])
        own = res is not None and res["budget"]["name"] in OWN_BUDGETS
        units = pending.get(r["id"]) or []
        if own and not units:
            continue
        prior = before_rows.get(r["id"]) if own else (r if res is not None else None)
        if prior is not None and prior["verdict"] == "not run yet":
            prior = None
        before = "; not run yet at any budget" if prior is None else \
            f"; at the {prior['budget']} budget: {prior['verdict']} ({prior['why']})"
        names = ", ".join(units[:4]) + (f" and {len(units) - 4} more" if len(units) > 4 else "")
        r["earlier"] = None if prior is None else {"budget": prior["budget"], "verdict": prior["verdict"]}
        r.update(verdict="pending", why=(f"waits for the paper budget's unit(s) {names} (`edgefer units`)"
                                         if units else "the paper budget's units are done: run `edgefer units` "
                                         "again to write the result file") + before,
                 command=f"edgefer units --budget paper --experiment {r['experiment']}")
    return rows


def _c3_c4(c3, c4, res, edge, e, rname, r, rnote, cosine) -> list[dict]:
    """C3 (the edge CNN is more accurate than R-CNN) and C4 (it converges in fewer iterations),
    against ``rname`` (``rcnn``, or ``rcnn-ce`` where the MSE run never trained: ``rnote``)."""
    note = f"; {rnote}" if rnote else ""
    row = _compare(*c3, edge, e.get("test_accuracy"), rname, r.get("test_accuracy"), res)
    row["why"] += note
    out = [row]
    ie, ir = e.get("converged_at_iteration"), r.get("converged_at_iteration")
    ours = f"{edge} {_num(ie)} vs {rname} {_num(ir)}"
    if ie is None or ir is None:
        out.append(_row(*c4, "–", res, "not testable as stated", "a curve is missing"))
    elif cosine and not (e.get("converged_before_end") and r.get("converged_before_end")):
        out.append(_row(*c4, ours, res, "not testable as stated",
                         "a curve was still moving by more than one point at the end of the run"))
    elif cosine and min(ie, ir) >= 0.8 * (e.get("iterations") or 0):
        out.append(_row(*c4, ours, res, "not testable as stated",
                         "both curves settle only in the last fifth of the run, where the cosine "
                         "schedule flattens every curve"))
    else:
        # constant learning rate: a curve that never settles converges after the run's end
        big = float("inf")
        ie_ = ie if e.get("converged_before_end") else big
        ir_ = ir if r.get("converged_before_end") else big
        if ie_ == big:
            out.append(_row(*c4, ours, res, "not supported",
                             f"{edge}'s curve still moves by more than one point at the end of the run"))
        elif ir_ >= 1.25 * ie_:
            out.append(_row(*c4, ours, res, "supported",
                             (f"{rname} needs {ir_ / ie_:.2f}x the iterations of {edge}" if ir_ != big else
                              f"{rname} never settles, {edge} settles at {ie:,}") + " (rule: at least 1.25x; paper 1.5x)"))
        else:
            out.append(_row(*c4, ours, res, "not supported",
                             f"{rname} needs {ir_ / ie_:.2f}x the iterations of {edge} (rule: at least 1.25x; paper 1.5x)"))
    out[-1]["why"] += note
    return out


def _claims(results: dict) -> list[dict]:
    rows = []
    p5 = PAPER["fig5"]
    # --- fig5
    c1a = ("C1a", "The edge CNN recognizes FER-2013 at 85.54% (read as training-set accuracy, Fig. 5's curve)",
           _pct(p5["edge_accuracy"]))
    c1b = ("C1b", "The edge CNN recognizes FER-2013 at 85.54% (read as accuracy on held-out images)",
           _pct(p5["edge_accuracy"]))
    c2 = ("C2", "The edge CNN converges after about 10,000 iterations", f"~{p5['edge_converged_at']:,}")
    c3 = ("C3", "The edge CNN is more accurate than R-CNN",
          f"{_pct(p5['edge_accuracy'])} vs {_pct(p5['rcnn_accuracy'])}")
    c4 = ("C4", "The edge CNN converges in fewer iterations than R-CNN",
          f"~{p5['edge_converged_at']:,} vs ~{p5['rcnn_converged_at']:,}")
    res = results.get("fig5")
    if res is None:
        rows += [_not_run(*c, "fig5") for c in (c1a, c1b, c2, c3, c4)]
    else:
        s, edge = res["summary"], res["edge_model"]
        e = s.get(edge, {})
        rname, r, rnote = _contrast(s, "rcnn")
        held = "fold 1 held out" if res.get("units_of") else "PrivateTest"
        detail = f"{edge}, {_num(e.get('iterations'))} iterations"
        if e.get("train_accuracy") is None and res["budget"]["name"] not in OWN_BUDGETS:
            rows.append(_row(*c1a, "–", res, "not testable as stated",
                             f"the {res['budget']['name']} budget's fig5 scores no fixed training sample"))
        else:
            row = _accuracy_claim(*c1a[:2], p5["edge_accuracy"], e.get("train_accuracy"), res,
                                  detail + ", 2,000 training images")
            if row["verdict"] == "supported" and e.get("test_accuracy") is not None:
                row["why"] += (f"; accuracy on images the net trained on says how well it fits them: on the "
                               f"held-out images it scores {_pct(e['test_accuracy'])} (C1b)")
            rows.append(row)
        rows.append(_accuracy_claim(*c1b[:2], p5["edge_accuracy"], e.get("test_accuracy"), res, f"{detail}, {held}"))
        cosine = (res.get("training") or {}).get("schedule", "cosine") == "cosine"
        it, total, settled = e.get("converged_at_iteration"), e.get("iterations") or 0, e.get("converged_before_end")
        ours = f"{_num(it)} of {_num(total)} iterations"
        if it is None:
            rows.append(_row(*c2[:3], "–", res, "not testable as stated", "no curve"))
        elif total < 1.5 * p5["edge_converged_at"]:
            rows.append(_row(*c2[:3], ours, res, "not testable as stated",
                             f"the run has {total:,} iterations, too few to place a convergence near "
                             f"{p5['edge_converged_at']:,}" + (", and its cosine schedule flattens every curve at "
                                                                "its end" if cosine else "")))
        elif settled and it <= 1.25 * p5["edge_converged_at"]:
            rows.append(_row(*c2[:3], ours, res, "supported", "settles (within one point of its final accuracy) "
                             f"by {1.25 * p5['edge_converged_at']:,.0f} iterations"))
        else:
            rows.append(_row(*c2[:3], ours, res, "not supported",
                             f"settles later than {1.25 * p5['edge_converged_at']:,.0f} iterations" if settled
                             else "never settles before the end"))
        if r is None:
            rows.append(_row(*c3, "–", res, "not testable as stated", rnote))
            rows.append(_row(*c4, "–", res, "not testable as stated", rnote))
        else:
            rows += _c3_c4(c3, c4, res, edge, e, rname, r, rnote, cosine)
    # --- table1
    c5 = ("C5", "The method trains about 1.5 times as fast as the contrast algorithm (per batch of 48)",
          "~1.5x (abstract)")
    res = results.get("table1")
    if res is None:
        rows.append(_not_run(*c5, "table1"))
    else:
        sp = res["speedup_vs_edge"]
        ours = ", ".join(f"{c} {v['train']:.2f}x" for c, v in sp.items())
        slow = [c for c, v in sp.items() if v["train"] < 1.25]
        why = (f"contrast train time / {res['edge_model']} train time, measured on "
               f"{machine_label(res.get('measured_on') or res['provenance']['machine'])}; supported when every "
               "ratio is at least 1.25")
        real = res.get("fig5_units_speedup_vs_edge")
        if real:
            why += ("; the Fig. 5 units' wall time per iteration on the same kind of machine gives "
                    + ", ".join(f"{c} {v:.2f}x" for c, v in real.items()))
        rows.append(_row(*c5, ours, res, "not supported" if slow else "supported",
                         why + (f"; slower or not clearly faster than: {', '.join(slow)}" if slow else "")))
    # --- cv
    c6 = ("C6a", "3-fold cross-validation over FER-2013 gives 88.56% (folds keeping identical images together)",
          _pct(PAPER["cv"]["accuracy"]))
    c6b = ("C6b", "3-fold cross-validation over FER-2013 gives 88.56% (plain random folds, as the paper most "
           "likely cut them)", _pct(PAPER["cv"]["accuracy"]))
    res = results.get("cv")
    if res is None:
        rows += [_not_run(*c6, "cv"), _not_run(*c6b, "cv")]
    else:
        s = res["summary"]
        detail = f"{res['edge_model']}, {res['data']['n_pooled']:,} images, ± {100 * (s['cv_accuracy_std'] or 0):.2f}"
        rows.append(_accuracy_claim(*c6[:2], PAPER["cv"]["accuracy"], s["cv_accuracy_mean"], res, detail))
        if "random_cv_accuracy_mean" in s:
            detail = (f"{res['edge_model']}, {res['data']['n_pooled']:,} images, ± "
                      f"{100 * (s['random_cv_accuracy_std'] or 0):.2f}; random minus grouped folds "
                      f"{100 * s['random_minus_grouped']:+.2f} points")
            rows.append(_accuracy_claim(*c6b[:2], PAPER["cv"]["accuracy"], s["random_cv_accuracy_mean"], res, detail))
        else:
            rows.append(_row(*c6b, "–", res, "not testable as stated",
                             f"the {res['budget']['name']} budget cuts no random folds"))
    # --- fig6
    p6 = PAPER["fig6"]
    c7 = ("C7", "The FER-2013 + LFW mix holds 35,883 images, 28,341 train / 7,542 test",
          f"{p6['n_total']:,} = {p6['n_train']:,} + {p6['n_test']:,}")
    c8 = ("C8", "Under a complex background (the mix) the edge CNN is more accurate than both contrast models",
          "Fig. 6")
    res = results.get("fig6")
    if res is None:
        rows += [_not_run(*c7, "fig6"), _not_run(*c8, "fig6")]
    else:
        d = res["data"]
        ours = f"{d['n_total']:,} = {d['n_train']:,} + {d['n_test']:,}"
        if res["budget"]["name"] not in OWN_BUDGETS:
            rows.append(_row(*c7, ours, res, "not testable as stated",
                             f"the {res['budget']['name']} budget subsamples the mix"))
        elif res["budget"]["name"] == "paper" and abs(d["n_total"] - p6["n_total"]) > 0.02 * p6["n_total"]:
            fer_n, lfw_n = d["per_source"]["fer2013"], d["per_source"]["lfw"]
            disgust = sum(d["per_class"][sp]["fer2013"].get("disgust", 0) for sp in ("train", "test"))
            rows.append(_row(*c7, ours, res, "not supported",
                             f"the sizes cannot be reached: 3,269 per class needs 3,269 disgust images and FER-2013 "
                             f"holds {disgust:,} (547 in the original), and LFW has {lfw_n:,} labelled photos, not "
                             f"13,000; the mix takes {fer_n:,} FER-2013 images and every labelled LFW photo"))
        elif abs(d["n_total"] - p6["n_total"]) <= 0.02 * p6["n_total"]:
            rows.append(_row(*c7, ours, res, "supported", "within 2% of the paper's total"))
        else:
            rows.append(_row(*c7, ours, res, "not supported",
                             "FER-2013 capped at 3,269 per class plus the labelled LFW photos (seven classes) "
                             "does not add up to the paper's total"))
        s, edge = res["summary"], res["edge_model"]
        contrast = {m: v["test_accuracy"] for m, v in s.items() if m != edge}
        if edge not in s or not contrast:
            rows.append(_row(*c8, "–", res, "not testable as stated", "a model is missing"))
        else:
            best = max(contrast, key=contrast.get)
            row = _compare(*c8, edge, s[edge]["test_accuracy"], best, contrast[best], res)
            why, caveat = _last_epochs_reading(res, c8, edge, list(contrast), row["verdict"])
            row["why"] += why
            if caveat:
                row["caveat"] = caveat
            stuck = [m for m, v in s.items() if m != edge and (v.get("one_class_share") or 0) >= ONE_CLASS]
            if stuck:
                row["why"] += (f"; {', '.join(stuck)} never left one class (at least {ONE_CLASS:.0%} of "
                               "its predictions in one class)")
            rows.append(row)
    # --- ablation
    from edgefer.experiments.ablation import CLAIMS
    abl = [(c.cid, c.claim, c.paper, c.a, c.b) for c in CLAIMS if c.cid != "C13"]
    c13 = next((c.cid, c.claim, c.paper) for c in CLAIMS if c.cid == "C13")
    res = results.get("ablation")
    if res is None:
        rows += [_not_run(cid, claim, paper, "ablation") for cid, claim, paper, *_ in abl]
        rows.append(_not_run(*c13, "ablation"))
    else:
        s = res["summary"]
        edge = res["edge_model"]
        alias = {"base": "base", "equalized": "base",
                 "input_96": "base" if edge == "edgecnn" else "input_96",
                 "input_48": "base" if edge == "edgecnn48" else "input_48"}
        for cid, claim, paper, a, b in abl:
            ka, kb = alias.get(a, a), alias.get(b, b)
            if cid == "C10" and s.get("base", {}).get("loss") == "mse":  # the paper budget's base: MSE
                ka, kb = "base", "loss_ce"
            sa, sb = s.get(ka, {}), s.get(kb, {})
            n_seeds = min(len(sa.get("seeds", [0])), len(sb.get("seeds", [0])))
            va, vb, std_a, std_b = (sa.get("test_accuracy"), sb.get("test_accuracy"), sa.get("test_accuracy_std"),
                                    sb.get("test_accuracy_std"))
            if cid == "C10":  # "at least as good": supported unless MSE trails by a point or more
                if va is None or vb is None:
                    rows.append(_row(cid, claim, paper, "–", res, "not testable as stated", "a run is missing"))
                    continue
                ours = _means("mse", va, std_a, "ce", vb, std_b, n_seeds)
                ok = va - vb > -ONE_POINT
                row = _row(cid, claim, paper, ours, res, "supported" if ok else "not supported",
                           f"mse {'within one point of or above' if ok else 'more than one point below'} ce")
                trained = _trained_seeds(sa, sb, ka, kb)
                if trained is not None:  # a seed that never trained counts: not training is the loss's failure
                    (pa, pb), kept, note = trained
                    row["why"] += (f"; {note}, counted here since failing to train is the loss's own failure"
                                   + (f"; over seed(s) {_seeds(kept)}, where both trained: mse "
                                      f"{_pct(statistics.fmean(pa))} vs ce {_pct(statistics.fmean(pb))}"
                                      if kept else ""))
                row["why"] += _mixed_precision(sa, sb, ka, kb, sa.get("seeds", []))
                rows.append(row)
                continue
            paired = None
            if n_seeds > 1 and "test_accuracy_per_seed" in sa and "test_accuracy_per_seed" in sb:
                acc_a, acc_b = _by_seed(sa, "test_accuracy_per_seed"), _by_seed(sb, "test_accuracy_per_seed")
                paired = [x - acc_b[k] for k, x in acc_a.items() if k in acc_b]  # paired by seed number
            trained = _trained_seeds(sa, sb, ka, kb)
            if trained is not None:  # compare over the seeds in which both nets trained, saying so
                (pa, pb), kept, note = trained
                if not kept:
                    rows.append(_row(cid, claim, paper, "–", res, "not testable as stated",
                                     f"{note}: no seed in which both {a} and {b} trained"))
                    continue
                va, vb = statistics.fmean(pa), statistics.fmean(pb)
                n_seeds, paired = len(kept), [x - y for x, y in zip(pa, pb)]
                std_a, std_b = (statistics.stdev(pa), statistics.stdev(pb)) if n_seeds > 1 else (None, None)
            row = _compare(cid, claim, paper, a, va, b, vb, res, seeds=n_seeds, paired=paired,
                           std_a=std_a, std_b=std_b)
            if trained is not None:
                row["why"] += f"; {note}, so the comparison is over seed(s) {_seeds(trained[1])}"
            row["why"] += _mixed_precision(sa, sb, ka, kb, trained[1] if trained is not None else sa.get("seeds", []))
            rows.append(row)
        tm, ts = s.get("base", {}).get("train_ms_per_batch"), s.get("pool_stride", {}).get("train_ms_per_batch")
        ratio = s.get("pool_stride", {}).get("train_time_vs_base")
        if "pool_stride" in s and "train_time_vs_base" in s["pool_stride"]:
            # units: seeds may have run on different machines, so only the same-unit ratio counts
            if ratio is None:
                rows.append(_row(*c13, "–", res, "not testable as stated",
                                 "a pool_stride unit did not time the base net beside it"))
            else:
                ours = (f"strided / max-pool training time per batch of {res.get('bench_batch', 48)}: {ratio:.2f}x "
                        "(median over seeds, both nets timed in the same unit)")
                rows.append(_row(*c13, ours, res, "supported" if ratio > 1 else "not supported",
                                 "the paper contrasts pooling with no reduction at all; against strided "
                                 f"convolutions, max pooling is {'faster' if ratio > 1 else 'slower'}"))
        elif tm is None or ts is None:
            rows.append(_row(*c13, "–", res, "not testable as stated", "a run is missing"))
        else:
            ours = f"max pool {tm:.0f} ms vs strided {ts:.0f} ms per training batch of {res.get('bench_batch', 48)}"
            rows.append(_row(*c13, ours, res, "supported" if tm < ts else "not supported",
                             "the paper contrasts pooling with no reduction at all; against strided convolutions, "
                             f"max pooling is {'faster' if tm < ts else 'slower'}"))
    return rows


# --------------------------------------------------------------------------- sections


def _image(path: Path, report_dir: Path, alt: str) -> str:
    if not path.exists():
        return f"*(plot {path.name} missing)*"
    return f"![{alt}]({os.path.relpath(path, report_dir).replace(os.sep, '/')})"


def _training_line(res: dict) -> str:
    cfg = res.get("training")
    if not cfg:
        return ""
    sched = f"{cfg['schedule']} schedule" + (f", {cfg['warmup_epochs']} warm-up epochs" if cfg.get("warmup_epochs") else "")
    return (f"Training: {cfg['optimizer']} (momentum {cfg['momentum']}), lr {cfg['lr']}, {sched}, weight decay "
            f"{cfg['weight_decay']}, loss {cfg['loss']}, batch {cfg['batch_size']}, {cfg['epochs']} epochs, "
            f"augmentation {cfg['augment']}, {cfg['precision']}.\n")


def _header(name: str, res: dict) -> list[str]:
    b = res["budget"]
    prov = res.get("provenance", {})
    m = prov.get("machine", {})
    return [WHAT[name], "",
            f"Command: `{res['command']}`", "",
            f"Budget: **{b['name']}**: {b.get('note', '')} (seed {res.get('seed')}, device {res.get('device')}).", "",
            *([_training_line(res)] if res.get("training") else []),
            *([_partial_line(res["units_pending"]), ""] if res.get("units_pending") else []),
            f"Provenance: {'aggregated at ' if res.get('unit_machines') else ''}commit `{prov.get('commit')}`, "
            f"{machine_label(m)} ({m.get('cores')} cores, "
            f"{m.get('torch_threads')} torch threads, CUDA {m.get('cuda')}), torch {m.get('torch')}, {prov.get('time')}"
            + (_unit_machines(res["unit_machines"]) if res.get("unit_machines") else "") + ".",
            ""]


def _partial_line(pending: list[str]) -> str:
    """'Partial: the unit(s) … is/are pending; …', in the number the list has."""
    one = len(pending) == 1
    return (f"Partial: the unit{'' if one else 's'} {', '.join(pending)} {'is' if one else 'are'} pending; what "
            f"follows covers the units done, and the claims that wait for {'it' if one else 'the others'} say so.")


def _unit_machines(where: dict) -> str:
    """'; units trained on A (3: u1, u2, u3) and B (1: u4)': where the units of a file ran."""
    by: dict[str, list[str]] = {}
    for unit, label in where.items():
        by.setdefault(label, []).append(unit)
    return "; its units ran on " + " and ".join(f"{label} ({len(us)}: {', '.join(us)})" for label, us in by.items())


def _section_fig5(res, rdir, report_dir) -> list[str]:
    p = res["paper"]
    paper_acc = {res["edge_model"]: p.get("edge_accuracy"), "rcnn": p.get("rcnn_accuracy")}
    paper_it = {res["edge_model"]: p.get("edge_converged_at"), "rcnn": p.get("rcnn_converged_at")}
    lines = ["| model | PrivateTest accuracy | without twins | macro-F1 | best PublicTest | converged at | "
             "iterations | paper accuracy | paper converged at |", "|---|---|---|---|---|---|---|---|---|"]
    for m, s in res["summary"].items():
        conv = _num(s["converged_at_iteration"]) + ("" if s["converged_before_end"] else " (not settled)")
        pit = paper_it.get(m)
        lines.append(f"| {m} | {_pct(s['test_accuracy'])} | {_pct(s['test_accuracy_without_twins'])} | "
                     f"{_pct(s['test_macro_f1'])} | {_pct(s['best_val_accuracy'])} | {conv} | {_num(s['iterations'])} | "
                     f"{_pct(paper_acc.get(m))} | {'–' if pit is None else f'~{pit:,}'} |")
    d = res["data"]
    lines += ["", f"Images: {d['n']['train']:,} Training, {d['n']['val']:,} PublicTest, {d['n']['test']:,} "
              f"PrivateTest ({d['test_with_twin_in_training']:,} of them with an identical twin in Training).", "",
              _image(rdir / res["plots"]["accuracy"], report_dir, "accuracy against iterations"), "",
              _image(rdir / res["plots"]["train_accuracy"], report_dir, "training accuracy"), ""]
    for m, path in res["plots"]["confusion"].items():
        lines.append(_image(rdir / path, report_dir, f"confusion {m}"))
    return lines


def _section_table1(res, rdir, report_dir) -> list[str]:
    lines = [f"| model | input | train ms / batch of {res['batch']} | test ms / batch of {res['batch']} | "
             "recognition rate (fig5) |", "|---|---|---|---|---|"]
    for m, r in res["models"].items():
        rr = "not run yet (fig5)" if r["recognition_rate"] is None else \
            f"{_pct(r['recognition_rate'])} ({r['recognition_rate_budget']} budget)"
        lines.append(f"| {m} | {r['input_size']}x{r['input_size']} | {r['train_ms_per_batch']:.1f} | "
                     f"{r['infer_ms_per_batch']:.1f} | {rr} |")
    lines += ["", "Time of each contrast model over the edge CNN's (" + res["edge_model"] + "), above 1 = the edge "
              "CNN is faster: " + ", ".join(f"{c}: train {v['train']:.2f}x, test {v['test']:.2f}x"
                                            for c, v in res["speedup_vs_edge"].items()) + ".",
              *([f"The same ratio in real training, from the Fig. 5 units' wall time per iteration (training, the "
                 "per-epoch curves and the final scoring, on the same kind of machine): "
                 + ", ".join(f"{m} {v:.1f} ms" for m, v in res["fig5_units_ms_per_iteration"].items()) + "; "
                 + ", ".join(f"{c} {v:.2f}x" for c, v in res["fig5_units_speedup_vs_edge"].items()) + "."]
                if res.get("fig5_units_ms_per_iteration") else []),
              "", f"Paper: training about {res['paper'].get('train_speedup_vs_contrast')}x as fast as the contrast "
              "algorithm (abstract); the per-batch times of its Table 1 are not transcribed here.", ""]
    return lines


def _section_cv(res, rdir, report_dir) -> list[str]:
    s, cv, d = res["summary"], res["cv"], res["data"]
    lines = ["| protocol | accuracy | macro-F1 | images | paper |", "|---|---|---|---|---|",
             f"| {res['folds']}-fold CV (paper's) | {_pct(s['cv_accuracy_mean'])} ± {_pct(s['cv_accuracy_std'])} | "
             f"{_pct(s['cv_macro_f1_mean'])} | {d['n_pooled']:,} pooled | {_pct(res['paper'].get('accuracy'))} |",
             f"| standard: Training → PrivateTest | {_pct(s['standard_test_accuracy'])} | "
             f"{_pct(s['standard_test_macro_f1'])} | {d['n']['train']:,} train, {d['n']['test']:,} test | – |",
             f"| standard, PrivateTest without twins | {_pct(s['standard_test_accuracy_without_twins'])} | – | "
             f"{d['n']['test'] - d['test_with_twin_in_training']:,} test | – |", "",
             "| fold | accuracy | macro-F1 | train | test |", "|---|---|---|---|---|"]
    for f in cv["per_fold"]:
        lines.append(f"| {f['fold']} | {_pct(f['accuracy'])} | {_pct(f['macro_f1'])} | {f['n_train']:,} | {f['n_test']:,} |")
    fd = cv.get("folds_detail", {})
    lines += ["", f"Twin groups (identical images) in the pool: {fd.get('twin_groups', '–')}, split across folds: "
              f"{fd.get('twin_groups_split_across_folds', '–')}.", "",
              _image(rdir / res["plots"]["train_accuracy"], report_dir, "training curves"), "",
              _image(rdir / res["plots"]["confusion_cv"], report_dir, "confusion, CV"),
              _image(rdir / res["plots"]["confusion_standard"], report_dir, "confusion, standard"), ""]
    return lines


def _section_fig6(res, rdir, report_dir) -> list[str]:
    d, p = res["data"], res["paper"]
    lines = ["| | ours | paper |", "|---|---|---|",
             f"| images in the mix | {d['n_total']:,} | {p.get('n_total', 0):,} |",
             f"| train / test | {d['n_train']:,} / {d['n_test']:,} | {p.get('n_train', 0):,} / {p.get('n_test', 0):,} |",
             f"| FER-2013 / LFW | {d['per_source']['fer2013']:,} / {d['per_source']['lfw']:,} | – |",
             f"| FER-2013 cap per class | {d['fer_per_class_cap']:,} | {p.get('fer_per_class', 0):,} |", ""]
    for size, det in d.get("detection", {}).items():
        lines.append(f"LFW at {size}x{size}: Haar found a face in {det['lfw_detected']:,} of {det['lfw_photos']:,} "
                     f"photos; {det['lfw_no_face']:,} without one were used whole.")
    lines += ["", "| model | test accuracy | macro-F1 | FER-2013 part | LFW part | LFW macro-F1 | epochs |",
              "|---|---|---|---|---|---|---|"]
    for m, s in res["summary"].items():
        ps, pf = s["test_accuracy_per_source"], s["test_macro_f1_per_source"]
        lines.append(f"| {m} | {_pct(s['test_accuracy'])} | {_pct(s['test_macro_f1'])} | {_pct(ps.get('fer2013'))} | "
                     f"{_pct(ps.get('lfw'))} | {_pct(pf.get('lfw'))} | {s['epochs']} |")
    edge = res["models"].get(res["edge_model"])
    if edge and edge.get("final"):
        rec = edge["final"]["per_class_recall"]
        lines += ["", f"{res['edge_model']}, last epoch, recall per class: "
                  + ", ".join(f"{c} {_pct(v)}" for c, v in rec.items()) + "."]
    lines += ["", _image(rdir / res["plots"]["accuracy"], report_dir, "test accuracy against epochs"), ""]
    lines += [_image(rdir / res["plots"][k], report_dir, k.replace("_", " ")) for k in ("per_source", "per_class")
              if k in res["plots"]]
    lines.append("")
    for m, path in res["plots"].get("confusion", {}).items():
        lines.append(_image(rdir / path, report_dir, f"confusion {m}"))
    return lines


def _section_ablation(res, rdir, report_dir) -> list[str]:
    # units: the seeds may have run on different machines, so speed is the ratio to the base net
    # timed in the same unit; one run on one machine (reduced budget): ms per batch
    relative = any("train_time_vs_base" in s for s in res["summary"].values())
    speed_head = ("train time / base's (same unit) | machines" if relative
                  else f"train ms / batch of {res.get('bench_batch', 48)}")
    lines = [f"| run | change | PrivateTest accuracy | vs base | macro-F1 | best PublicTest | {speed_head} |",
             "|---|---|---|---|---|---|---|" + ("---|" if relative else "")]
    for n, s in res["summary"].items():
        change = s.get("change") or n
        acc = _pct(s["test_accuracy"]) + (f" ± {_pct(s['test_accuracy_std'])}" if len(s.get("seeds", [])) > 1 else "")
        if relative:
            r = s.get("train_time_vs_base")
            speed = f"{'–' if r is None else f'{r:.2f}x'} | {'; '.join(s.get('machines', []))}"
        else:
            speed = f"{s['train_ms_per_batch']:.1f}"
        lines.append(f"| {n} | {change} | {acc} | {100 * (s['delta_test_accuracy_vs_base'] or 0):+.2f} pt | "
                     f"{_pct(s['test_macro_f1'])} | {_pct(s['best_val_accuracy'])} | {speed} |")
    stuck = [f"{n} in seed{'s' if len(v['never_trained_seeds']) > 1 else ''} {_seeds(v['never_trained_seeds'])}"
             for n, v in res["summary"].items() if v.get("never_trained_seeds")]
    if stuck:
        lines += ["", f"Never left one class (at least {ONE_CLASS:.0%} of its PrivateTest predictions in one class, "
                  f"the loss stuck at the class prior): {'; '.join(stuck)}. The table's means include those seeds; "
                  "the claims compare over the seeds in which both runs trained, except C10 (MSE against "
                  "cross-entropy), where not training is the loss's own failure."]
    if "plots" in res:
        lines += ["", _image(rdir / res["plots"]["accuracy"], report_dir, "ablation curves"), ""]
    else:
        lines += ["", f"Mean ± std over seeds {next(iter(res['summary'].values())).get('seeds')}; loss of the base "
                  f"{res['loss']}, precision {res['precision']}.", ""]
    return lines


UNIT_SECTIONS = {"fig5": lambda *a: _section_fig5_units(*a), "cv": lambda *a: _section_cv_units(*a)}
SECTIONS = {"fig5": _section_fig5, "table1": _section_table1, "cv": _section_cv, "fig6": _section_fig6,
            "ablation": _section_ablation}


def render(results: dict, results_dir, report_path, unit_status: dict | None = None,
           earlier: dict | None = None) -> str:
    """The Markdown text of the report (``unit_status``: :func:`_unit_status` of ``results_dir``,
    ``earlier``: :func:`load_results` of its smaller budget's folder, when the caller has them)."""
    rdir = Path(results_dir)
    report_dir = Path(report_path).resolve().parent
    rdir_abs = rdir.resolve()
    lines = ["# Reproduction report: \"Facial expression recognition based on a CNN and image edge detection\"",
             "", f"Paper: {PAPER['source']}.", "",
             f"Generated by `edgefer report --results {rdir}` from the result files in `{rdir}/`; do not edit by "
             "hand. Every number below is read from those files or is the paper's.", "",
             "## Claims", "",
             "| # | claim | paper | ours | budget | command | verdict |", "|---|---|---|---|---|---|---|"]
    unit_status = unit_status or _unit_status(rdir)
    earlier = load_results(rdir / DEFAULT_BUDGET) if earlier is None else earlier
    rows = claims(results, _pending(unit_status), earlier)
    full = load_results(rdir / "full")  # the paper's setting on a GPU, kept beside the paper budget
    rows += [{**c, "id": f"{c['id']} (full)"} for c in claims(full) if c["verdict"] != "not run yet"]
    for c in rows:
        lines.append(f"| {c['id']} | {c['claim']} | {c['paper']} | {c['ours']} | {c['budget']} | `{c['command']}` | "
                     f"**{c['verdict']}**: {c['why']} |")
    lines += ["", "Verdict rules: accuracy claims are supported when ours is at most one point below the "
              "paper's, not supported when lower at the paper's own budget (`paper` on a CPU, `full` on a GPU), "
              "and not testable as stated when lower at a smaller budget; accuracy comparisons need a lead of at "
              "least one point (with several seeds: of the mean, and a lead in every seed); a convergence "
              "comparison needs the slower model to take at least 1.25 times the iterations (with a cosine "
              "schedule it is not testable when both settle in the last fifth of the run; the paper budget's "
              "learning rate is constant). A claim reads *pending* while the paper budget's units it waits for "
              "have not run.", ""]
    lines += _section_units(rdir, unit_status)
    not_run = [n for n in EXPERIMENTS if n not in results]
    if not_run:
        lines += ["Not run yet: " + ", ".join(f"`{n}` (`{run_command(n)}`, about "
                                               f"{BUDGETS[n][DEFAULT_BUDGET].est_cpu_minutes:.0f} min on a 2-core CPU)"
                                               for n in not_run) + ".", ""]
    for n in EXPERIMENTS:
        lines += [f"## {TITLES[n]}", ""]
        res = results.get(n)
        if res is None:
            b = BUDGETS[n][DEFAULT_BUDGET]
            lines += [WHAT[n], "", f"**Not run yet.** Run `{run_command(n)}` ({b.note}; about "
                      f"{b.est_cpu_minutes:.0f} min on a 2-core CPU), or `{run_command(n, 'full')}` on a GPU; "
                      "then `edgefer report`.", ""]
            continue
        lines += _header(n, res)
        if res["budget"]["name"] == "smoke":
            lines += ["> Smoke budget: a plumbing check; these numbers say nothing about the method.", ""]
        section = UNIT_SECTIONS.get(n) if res.get("units_of") else None
        lines += (section or SECTIONS[n])(res, rdir_abs, report_dir)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _pending(unit_status: dict) -> dict:
    """``{claim id: [pending unit it needs, ...]}`` from :func:`_unit_status`, as :func:`claims` takes it."""
    from edgefer.experiments.units import claim_units
    left = {u for v in unit_status["experiments"].values() for u in v["pending"]}
    need = claim_units("paper", unit_status["edge_model"] or "edgecnn")
    return {cid: [u for u in names if u in left] for cid, names in need.items()}


def _unit_status(rdir: Path) -> dict:
    """The paper budget's units (done and pending per experiment; all pending before the plan)."""
    from edgefer.experiments.units import status
    return status("paper", out=rdir)


def _section_units(rdir: Path, st: dict) -> list[str]:
    from edgefer.experiments.units import load_units
    plan, recs = load_units("paper", out=rdir)
    lines = ["## Units of the paper budget", "",
             "Each unit trains one model once (one fold, one figure's model, one ablation variant and seed); "
             "`edgefer units` runs the pending ones in this order, one at a time, and commits each unit's "
             "result file under `results/paper/`.", ""]
    if plan is None:
        lines += ["No plan yet: `edgefer units --list` times the models on this machine, chooses the edge CNN "
                  "(96x96 when a unit of it is estimated at no more than 100 minutes, else 48x48) and estimates "
                  "every unit.", ""]
        return lines
    m = plan["provenance"]["machine"]
    lines += [f"Plan (`results/paper/plan.json`): edge CNN **{plan['edge_model']}** for every fold, Fig. 6 and the "
              f"standard protocol ({plan['rule']}); precision {plan['precision']}; estimated on {machine_label(m)} "
              f"({m.get('cores')} cores, {m.get('torch_threads')} torch threads), {plan['est_total_hours']:.1f} h "
              "in all.", "",
              "| unit | net | iterations | estimate | status | held-out accuracy | wall hours | CPU hours | machine |",
              "|---|---|---|---|---|---|---|---|---|"]
    for u in plan["units"]:
        r = recs.get(u["name"])
        if r is None:
            lines.append(f"| {u['name']} | – | {u['iterations']:,} | {u['est_minutes']:.0f} min | pending |"
                         + " – |" * 4)
            continue
        loss = (r.get("config") or {}).get("loss")
        net = (f"{r['model']} ({r.get('input_size', '–')}x{r.get('input_size', '–')}, {r['precision']}"
               + (f", {loss.upper()}" if loss else "") + ")") if r["model"] else r["precision"]
        lines.append(f"| {u['name']} | {net} | {_num(r.get('iterations'))} | {u['est_minutes']:.0f} min | done | "
                     f"{unit_accuracy(r)} | {r['time']['wall_hours']:.2f} | {r['time']['cpu_hours']:.2f} | "
                     f"{machine_label(r['provenance']['machine'])} |")
    lines.append("")
    return lines


# where each kind of unit tests its net: the key of its result and the images it names
_UNIT_TEST = {"ablation": ("test", "PrivateTest"), "standard": ("test", "PrivateTest"),
              "fig5": ("heldout", "held-out fold {fold}"), "cv": ("heldout", "held-out fold {fold}"),
              "rcv": ("heldout", "held-out random fold {fold}"), "fig6": ("final", "the mix's test part")}


def unit_accuracy(rec: dict) -> str:
    """A done unit's own accuracy on the images it holds out, naming them ("–" for a unit that trains
    nothing, Table 1), so that a seed shows its number before its variant's other seeds are done."""
    key, where = _UNIT_TEST.get(rec.get("kind"), (None, ""))
    acc = (rec.get(key) or {}).get("accuracy") if key else None
    return "–" if acc is None else f"{_pct(acc)} ({where.format(fold=rec.get('fold'))})"


def _section_fig5_units(res, rdir, report_dir) -> list[str]:
    p = res["paper"]
    paper_acc = {res["edge_model"]: p.get("edge_accuracy"), "rcnn": p.get("rcnn_accuracy")}
    paper_it = {res["edge_model"]: p.get("edge_converged_at"), "rcnn": p.get("rcnn_converged_at")}
    d = res["data"]
    lines = [f"Protocol: {res['protocol']}: {d['n_train']:,} training images, {d['n_heldout']:,} held out; curves on "
             f"fixed samples of {d['n_train_sample']:,} training and {d['n_heldout_sample']:,} held-out images after "
             f"every epoch; loss {res['loss']}, precision {res['precision']}.", "",
             "| model | training-sample accuracy | held-out accuracy | macro-F1 | converged at (training curve) | "
             "converged at (held-out curve) | iterations | hours | paper accuracy | paper converged at |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m, s in res["summary"].items():
        conv = lambda it, ok: _num(it) + ("" if ok else " (not settled)")  # noqa: E731
        base = s.get("model", m)  # rcnn-ce: R-CNN with cross-entropy, compared with the paper's R-CNN
        pit = paper_it.get(base)
        loss = f", {s['loss'].upper()}" if s.get("loss") else ""
        stuck = " — one class" if (s.get("one_class_share") or 0) >= ONE_CLASS else ""
        lines.append(f"| {m} ({s['input_size']}x{s['input_size']}{loss}){stuck} | {_pct(s['train_accuracy'])} | "
                     f"{_pct(s['test_accuracy'])} | {_pct(s['test_macro_f1'])} | "
                     f"{conv(s['converged_at_iteration'], s['converged_before_end'])} | "
                     f"{conv(s['heldout_converged_at_iteration'], s['heldout_converged_before_end'])} | "
                     f"{_num(s['iterations'])} | {s['wall_hours']:.2f} | {_pct(paper_acc.get(base))} | "
                     f"{'–' if pit is None else f'~{pit:,}'} |")
    lines += ["", _image(rdir / res["plots"]["train_accuracy"], report_dir, "training accuracy against iterations"),
              "", _image(rdir / res["plots"]["accuracy"], report_dir, "held-out accuracy against iterations"), ""]
    lines += [_image(rdir / path, report_dir, f"confusion {m}, held-out fold")
              for m, path in res["plots"].get("confusion", {}).items()]
    return lines


def _section_cv_units(res, rdir, report_dir) -> list[str]:
    s, d, p = res["summary"], res["data"], _pct(res["paper"].get("accuracy"))
    lines = ["| protocol | accuracy | macro-F1 | images | paper |", "|---|---|---|---|---|",
             f"| 3-fold CV, identical images kept in one fold | {_pct(s['cv_accuracy_mean'])} ± "
             f"{_pct(s['cv_accuracy_std'])} | {_pct(s['cv_macro_f1_mean'])} | {d['n_pooled']:,} pooled | {p} |"]
    if "random_cv" in res:
        lines.append(f"| 3-fold CV, plain random folds | {_pct(s['random_cv_accuracy_mean'])} ± "
                     f"{_pct(s['random_cv_accuracy_std'])} | {_pct(res['random_cv']['macro_f1_mean'])} | "
                     f"{d['n_pooled']:,} pooled | {p} |")
    else:
        lines.append(f"| 3-fold CV, plain random folds | pending | – | {d['n_pooled']:,} pooled | {p} |")
    if "standard" in res:
        lines += [f"| standard: Training → PrivateTest | {_pct(s['standard_test_accuracy'])} | "
                  f"{_pct(s['standard_test_macro_f1'])} | {d['n']['train']:,} train, {d['n']['test']:,} test | – |",
                  f"| standard, PrivateTest without twins | {_pct(s['standard_test_accuracy_without_twins'])} | – | "
                  f"{d['n']['test'] - d['test_with_twin_in_training']:,} test | – |"]
    else:
        lines.append("| standard: Training → PrivateTest | pending | – | – | – |")
    lines.append("")
    if "random_cv" in res:
        lines += [f"Random folds minus grouped folds: {100 * s['random_minus_grouped']:+.2f} points, what FER-2013's "
                  "groups of identical images add to the paper's kind of cross-validation.", ""]
    lines += ["| folds | fold | net | accuracy | macro-F1 | train | test | iterations |", "|---|---|---|---|---|---|---|---|"]
    for kind, key in (("grouped", "cv"), ("random", "random_cv")):
        for f in res.get(key, {}).get("per_fold", []):
            lines.append(f"| {kind} | {f['fold']} | {f['model']} ({f['input_size']}x{f['input_size']}) | "
                         f"{_pct(f['accuracy'])} | {_pct(f['macro_f1'])} | {f['n_train']:,} | {f['n_test']:,} | "
                         f"{_num(f['iterations'])} |")
    lines.append("")
    names = {"confusion_cv": "confusion, grouped folds", "confusion_random": "confusion, random folds",
             "confusion_standard": "confusion, Training to PrivateTest"}
    lines += [_image(rdir / res["plots"][k], report_dir, alt) for k, alt in names.items() if k in res.get("plots", {})]
    return lines


def write_report(results="results", out="REPORT.md", readme=None) -> Path:
    """Write the report for the result files in ``results`` to ``out``; returns its path.

    ``readme``: also replace the claims table between :data:`README_MARKERS` in this file with
    :func:`readme_table` (ValueError naming the file when the markers are missing).
    """
    from edgefer.io import atomic_write_text
    results_dir = Path(results)
    found, status = load_results(results_dir), _unit_status(results_dir)
    earlier = load_results(results_dir / DEFAULT_BUDGET)
    path = atomic_write_text(out, render(found, results_dir, out, status, earlier))
    if readme is not None:
        readme = Path(readme)
        text = readme.read_text(encoding="utf-8")
        start, end = README_MARKERS
        i, j = text.find(start), text.find(end)
        if i < 0 or j < i:
            raise ValueError(f"{readme}: no claims table to update (the lines {start} and {end} mark it)")
        table = readme_table(claims(found, _pending(status), earlier))
        atomic_write_text(readme, text[:i + len(start)] + "\n" + table + text[j:])
    return path


README_MARKERS = ("<!-- claims:start (edgefer report --readme README.md) -->", "<!-- claims:end -->")
"""The lines between which ``edgefer report --readme`` writes the README's claims table."""


def readme_table(rows: list[dict]) -> str:
    """The README's short claims table from :func:`claims`' rows (those of REPORT.md's table):
    each claim's verdict at the paper's own budget with our number, or *pending* with the smaller
    budget's verdict in brackets. A verdict whose two readings disagree (C8) carries its caveat."""
    lines = ["| # | claim | paper | verdict at the paper's budget (at the reduced budget) |", "|---|---|---|---|"]
    for c in rows:
        if c["verdict"] == "pending":
            e = c.get("earlier")
            verdict = "pending" + (f" ({e['verdict']})" if e else "")
        else:
            verdict = f"**{c['verdict']}**: {c['ours']}" + (f" ({c['caveat']})" if c.get("caveat") else "")
        lines.append(f"| {c['id']} | {c['claim']} | {c['paper']} | {verdict} |")
    return "\n".join(lines) + "\n"
