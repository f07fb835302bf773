"""Choose the shipped models by role on the labels people give and the photos people take.

The rule (issue #37), for each role within its pass budget (:data:`ROLE_BUDGETS`, in passes of a
plain int8 FERNet per face, ``edgefer.models.cost``):

    objective = mean( accuracy on FER+'s majority labels of FER-2013 PublicTest,
                      balanced accuracy on the *choosing* half of LFW )

* FER+ majority: the class with most of the ten crowd votes among the seven (FER+'s contempt,
  unknown and not-a-face votes are dropped; images with no vote among the seven are left out), the
  labels ``edgefer evaluate --labels ferplus`` scores against.
* LFW halves: by person, ``edgefer.data.lfw.lfw_half`` (SHA-256 of the person's folder name, first
  byte even: choosing half, odd: reporting half). Faces are found with Haar, the largest one per
  photo, as ``edgefer evaluate --data ../shared/datasets/lfw`` does (the whole photo where none).
* Balanced accuracy: mean recall over the classes with at least 50 photos in that half
  (``edgefer.evaluate.metrics.balanced_accuracy``): neutral, happy, surprise, angry and sad.
* ``default``: any subset of up to :data:`MAX_MEMBERS` candidates under any set of test-time views
  within 20 passes; ``fast`` and ``small``: one candidate, the face alone, within 1 and 0.2 passes.
  Ties go to fewer passes, then fewer members.

FER-2013's PrivateTest (its own and FER+'s labels) and LFW's reporting half play no part in the
choice: they are reported for the winners (and for the FER-2013-chosen ``fernet-ens`` beside them).

The script only measures and writes ``results/model-choice.json`` (every scored choice, the
winners, their reports) and confusion plots under ``results/model-choice/``; it moves no file.
Shipping the winners is a reviewed commit, and ``tests/test_model_choice.py`` checks that every
shipped role is the rule's winner in that file.

    scripts/fetch_candidates.sh                                        # earlier candidates, from git history
    .venv/bin/python scripts/choose_models.py                          # candidates: edgefer/weights, runs/candidates/
    .venv/bin/python scripts/choose_models.py runs/fernet-fp1/fernet-fp1-int8.onnx   # and these too

Each candidate's probabilities (every test-time view of PublicTest, PrivateTest and LFW) are cached
in runs/select-cache/ (``EDGEFER_SELECT_CACHE``), keyed by a hash of the file's bytes and the data.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from edgefer.classifiers import TTA_VIEWS, load_classifier, view
from edgefer.data.lfw import HALVES, lfw_half, read_lfw
from edgefer.data.load import dataset_root, load_splits
from edgefer.data.pixels import dataset_pixels
from edgefer.evaluate.metrics import balanced_accuracy, classification_report
from edgefer.labels import CLASSES
from edgefer.models.cost import passes as model_passes
from edgefer.results import provenance, write_json
from edgefer.runtime import read_onnx_metadata

ROOT = Path(__file__).resolve().parents[1]
VIEWS = {"face": ("identity",), "face+mirror": ("identity", "hflip"),
         "face+zoom": ("identity", "zoom_in", "zoom_out"), "face+zoom+mirror": TTA_VIEWS}
"""The sets of test-time views a choice may average over (``edgefer.classifiers.view``)."""


def passes(path: Path) -> float:
    """What one view of the ONNX model in ``path`` costs per face, in plain-FERNet passes."""
    meta = read_onnx_metadata(path)
    return model_passes(meta.get("model_name", "fernet"), json.loads(meta.get("model_kwargs", "{}")))

ROLE_BUDGETS = {"default": 20.0, "fast": 1.0, "small": 0.2}
"""Most passes per face each role may cost (the budgets the roles had when the rule was set)."""
MAX_MEMBERS = 4
PARTS = ("publictest", "privatetest", "lfw")
OLD_DEFAULT = {"members": ["fernet32-fer2013-int8.onnx", "fernet64-fer2013-int8.onnx"], "views": "face+zoom"}
"""The default chosen on FER-2013 PublicTest before this rule (``fernet-ens``), reported beside."""
CACHE_DIR = Path(os.environ.get("EDGEFER_SELECT_CACHE", ROOT / "runs" / "select-cache"))


def candidate_files(extra=()) -> list[Path]:
    """Every ONNX file in the package's weights and in runs/candidates/ (``scripts/fetch_candidates.sh``
    restores the earlier candidates there from git history), then ``extra``."""
    from edgefer.recognize import WEIGHTS_DIR
    found = [p for d in (WEIGHTS_DIR, ROOT / "runs" / "candidates") if d.is_dir() for p in sorted(d.glob("*.onnx"))]
    files, seen = [], set()
    for p in found + [Path(p) for p in extra]:
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else str(p)
        if digest in seen:  # the same model under an older name (runs/candidates) is scored once
            continue
        seen.add(digest)
        files.append(p)
    names = [p.name for p in files]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        sys.exit(f"choose_models: two candidates share a file name: {', '.join(dup)}")
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        sys.exit(f"choose_models: no such candidate file: {', '.join(missing)}")
    return files


class Data:
    """The images every candidate is scored on, with the labels of each measure."""

    def __init__(self, root: Path):
        fer = load_splits(root / "fer2013", progress=False)
        self.fer = {s: fer[s] for s in ("publictest", "privatetest")}
        self.lfw = read_lfw(root / "lfw", split="all")["all"]
        self.half = np.asarray([lfw_half(Path(f).parent.name) for f in self.lfw.sources])
        self._lfw_pixels = {}
        self.lfw_no_face = None

    def ferplus(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """FER+ majority label of each image of ``split`` and which images have one."""
        soft = self.fer[split].soft_labels
        keep = ~np.isnan(soft[:, 0])
        return np.where(keep, np.nan_to_num(soft).argmax(1), -1), keep

    def pixels(self, part: str, spec):
        if part != "lfw":
            return spec.crops(self.fer[part].images)
        key = json.dumps(spec.to_dict(), sort_keys=True)
        if key not in self._lfw_pixels:
            pixels, counts = dataset_pixels(self.lfw, spec, detect=True, progress=False)
            self._lfw_pixels[key] = pixels
            self.lfw_no_face = counts.get("no_face", 0)
        return self._lfw_pixels[key]

    def digest(self, spec) -> str:
        """What a candidate's cached probabilities depend on besides its bytes."""
        h = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode())
        for s, ds in self.fer.items():
            h.update(s.encode())
            h.update(np.asarray(ds.labels).tobytes())
            for image in ds.images:
                h.update(np.ascontiguousarray(image).tobytes())
        h.update("\n".join(self.lfw.sources).encode())
        h.update(json.dumps(TTA_VIEWS).encode())
        return h.hexdigest()[:20]


def member_probabilities(files, data: Data, cache_dir=CACHE_DIR) -> dict:
    """probs[file name][part][view]: float32 (N, 7), from the cache where scored before."""
    probs = {}
    digests = {}
    for path in files:
        clf = load_classifier(path)
        spec_key = json.dumps(clf.spec.to_dict(), sort_keys=True)
        if spec_key not in digests:
            digests[spec_key] = data.digest(clf.spec)
        h = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        file = Path(cache_dir) / f"choose-{h}-{digests[spec_key]}.npz"  # by bytes: a renamed file hits
        if file.is_file():
            try:
                with np.load(file) as z:
                    probs[path.name] = {p: {v: z[f"{p}/{v}"] for v in TTA_VIEWS} for p in PARTS}
                print(f"choose_models: {path.name} (cached)", file=sys.stderr)
                continue
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                print(f"choose_models: scoring {path.name} again: unreadable cache file {file} ({exc})", file=sys.stderr)
        probs[path.name] = {}
        for part in PARTS:
            x = data.pixels(part, clf.spec)
            probs[path.name][part] = {v: clf.probabilities(view(x, v)).astype(np.float32) for v in TTA_VIEWS}
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(file.name + ".tmp.npz")
        np.savez(tmp, **{f"{p}/{v}": probs[path.name][p][v] for p in PARTS for v in TTA_VIEWS})
        os.replace(tmp, file)
        print(f"choose_models: scored {path.name}", file=sys.stderr)
    return probs


KEEP_TOP = 2000
"""Rows of ensembles kept in the result file (by objective); every single candidate is kept."""


def kept_rows(rows) -> list:
    """The rows written: every single candidate and the ``KEEP_TOP`` best ensembles, by objective
    (enough to re-derive every role's winner; all were scored)."""
    singles = [r for r in rows if len(r["members"]) == 1]
    others = sorted((r for r in rows if len(r["members"]) > 1), key=lambda r: -r["objective"])[:KEEP_TOP]
    return sorted(singles + others, key=lambda r: -r["objective"])


def measures(p: dict, data: Data, *, full: bool = False) -> dict:
    """The rule's measures for averaged probabilities ``p[part]`` (N, 7); with ``full``, the
    reported ones too (each a classification report with per-class recall and confusion)."""
    y_pub, keep_pub = data.ferplus("publictest")
    choose = data.half == "choose"
    y_lfw = data.lfw.labels
    ferplus_pub = float((p["publictest"].argmax(1)[keep_pub] == y_pub[keep_pub]).mean())
    lfw_choose, _ = balanced_accuracy(y_lfw[choose], p["lfw"].argmax(1)[choose])
    out = {"ferplus_publictest": round(ferplus_pub, 4), "lfw_choose_balanced": round(lfw_choose, 4),
           "objective": round((ferplus_pub + lfw_choose) / 2, 4)}
    if full:
        y_priv, keep_priv = data.ferplus("privatetest")
        pred_priv = p["privatetest"].argmax(1)
        rep = data.half == "report"
        out["reports"] = {
            "ferplus_privatetest": classification_report(y_priv[keep_priv], pred_priv[keep_priv]),
            "lfw_report": classification_report(y_lfw[rep], p["lfw"].argmax(1)[rep]),
            "fer2013_privatetest": classification_report(data.fer["privatetest"].labels, pred_priv),
            "lfw_choose": classification_report(y_lfw[choose], p["lfw"].argmax(1)[choose]),
            "ferplus_publictest": classification_report(y_pub[keep_pub], p["publictest"].argmax(1)[keep_pub]),
        }
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("extra", nargs="*", help="more candidate ONNX files (e.g. a new student's int8 copy)")
    ap.add_argument("--out", default=str(ROOT / "results" / "model-choice.json"))
    ap.add_argument("--plots", default=str(ROOT / "results" / "model-choice"))
    args = ap.parse_args(argv)

    files = candidate_files(args.extra)
    data = Data(dataset_root())
    probs = member_probabilities(files, data)
    if data.lfw_no_face is None:  # every candidate came from the cache: count from the detection cache
        data.pixels("lfw", load_classifier(files[0]).spec)
    cost = {p.name: passes(p) for p in files}
    names = [p.name for p in files]
    # Each member's probabilities averaged over each set of views once; a subset averages those.
    mean_views = {m: {vs: {part: np.mean([probs[m][part][v] for v in tta], axis=0) for part in PARTS}
                      for vs, tta in VIEWS.items()} for m in names}
    rows = []
    for k in range(1, min(len(names), MAX_MEMBERS) + 1):
        for subset in itertools.combinations(names, k):
            base = sum(cost[m] for m in subset)
            for vs, tta in VIEWS.items():
                n_passes = round(base * len(tta), 2)
                if k > 1 and n_passes > ROLE_BUDGETS["default"]:
                    continue  # only within the default's budget (singles: every view, for the table)
                p = {part: sum(mean_views[m][vs][part] for m in subset) / k for part in PARTS}
                rows.append({"members": list(subset), "views": vs, "passes": n_passes, **measures(p, data)})

    def rank(r):
        return r["objective"], -r["passes"], -len(r["members"])

    winners = {}
    for role, budget in ROLE_BUDGETS.items():
        pool = [r for r in rows if r["passes"] <= budget
                and (role == "default" or (len(r["members"]) == 1 and r["views"] == "face"))]
        if not pool:
            sys.exit(f"choose_models: no candidate fits the {role} role's budget of {budget} passes")
        winners[role] = max(pool, key=rank)

    def report_for(choice):
        k = len(choice["members"])
        p = {part: sum(mean_views[m][choice["views"]][part] for m in choice["members"]) / k for part in PARTS}
        return {"members": choice["members"], "views": choice["views"], "tta": list(VIEWS[choice["views"]]),
                "passes": round(sum(cost[m] for m in choice["members"]) * len(VIEWS[choice["views"]]), 2),
                **measures(p, data, full=True)}

    reported = {role: report_for(w) for role, w in winners.items()}
    from edgefer.recognize import ROLES as ROLE_FILES  # what the package ships for each role now
    if all(m in names for m in OLD_DEFAULT["members"]):
        reported["fer2013-default"] = report_for(OLD_DEFAULT)
    plots = Path(args.plots)
    from edgefer.evaluate.plots import plot_confusion
    for role, r in reported.items():
        for measure, rep in r["reports"].items():
            if measure in ("ferplus_privatetest", "lfw_report", "fer2013_privatetest"):
                plot_confusion(rep["confusion"], plots / f"{role}-{measure}.png",
                               title=f"{role}: {' + '.join(m.removesuffix('.onnx') for m in r['members'])} "
                                     f"({r['views']}), {measure} ({rep['n']} images)")
    lfw_counts = {h: {c: int(((data.half == h) & (data.lfw.labels == i)).sum()) for i, c in enumerate(CLASSES)}
                  for h in HALVES}
    write_json(args.out, {
        "rule": {"objective": "mean of accuracy on FER+ majority labels of FER-2013 PublicTest and balanced "
                              "accuracy (mean recall over classes with >= 50 photos) on LFW's choosing half",
                 "lfw_halves": "edgefer.data.lfw.lfw_half: SHA-256 of the person's folder name, first byte "
                               "even -> choose, odd -> report",
                 "budgets": ROLE_BUDGETS, "max_members": MAX_MEMBERS,
                 "fast_and_small": "one candidate, the face alone (no test-time views)",
                 "ties": "fewer passes, then fewer members"},
        "winners": {role: {"members": w["members"], "views": w["views"], "passes": w["passes"],
                           "objective": w["objective"]} for role, w in winners.items()},
        "reported": reported,
        "roles": {role: {"model": ROLE_FILES.get(role), "scores": {
            "ferplus_privatetest_accuracy": round(r["reports"]["ferplus_privatetest"]["accuracy"], 4),
            "lfw_report_accuracy": round(r["reports"]["lfw_report"]["accuracy"], 4),
            "lfw_report_balanced_accuracy": round(r["reports"]["lfw_report"]["balanced_accuracy"], 4),
            "fer2013_privatetest_accuracy": round(r["reports"]["fer2013_privatetest"]["accuracy"], 4)}}
            for role, r in reported.items() if role in ROLE_BUDGETS},
        "lfw": {"photos": len(data.lfw), "no_haar_face": data.lfw_no_face, "per_half": lfw_counts},
        "candidates": {n: {"passes": cost[n], "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                       for n, p in zip(names, files)},
        "scored": len(rows),
        "kept": f"every single candidate (each view set) and the best {KEEP_TOP} of the other choices",
        "choices": kept_rows(rows),
        "provenance": provenance(data="fer2013 (publictest FER+ majority, privatetest), lfw (all labelled photos, halves)",
                                 split="choice: publictest (FER+) + lfw choose; reported: privatetest, lfw report",
                                 script="scripts/choose_models.py"),
    }, rows="choices")
    for role, r in reported.items():
        rp = r["reports"]
        print(f"{role:16s} {' + '.join(r['members']):60s} {r['views']:16s} {r['passes']:5.2f} passes  "
              f"objective {r['objective']:.4f}  FER+ priv {rp['ferplus_privatetest']['accuracy']:.4f}  "
              f"LFW report {rp['lfw_report']['accuracy']:.4f} (bal {rp['lfw_report']['balanced_accuracy']:.4f})  "
              f"FER-2013 priv {rp['fer2013_privatetest']['accuracy']:.4f}")


if __name__ == "__main__":
    main()
