"""Choose the default ensemble on PublicTest and write its manifest; report every choice.

Every non-empty subset of the candidate members, with and without the mirror view, is scored on
all of PublicTest and PrivateTest. The subset with the best PublicTest accuracy is shipped as
edgefer/weights/fernet-ens.json (ties go to fewer members, then fewer views: faster).
PrivateTest plays no part in the choice; the table of all subsets is the ablation, written to
results/ensemble-ablation.json.

    .venv/bin/python scripts/select_ensemble.py fernet-int8.onnx fernet-fusion-int8.onnx ...
"""
import itertools
import json
import sys

import numpy as np

from edgefer.classifiers import TTA_VIEWS, load_classifier, view
from edgefer.data.load import dataset_root, load_splits
from edgefer.recognize import WEIGHTS_DIR
from edgefer.results import provenance, write_json

SPLITS = ("publictest", "privatetest")
VIEWS = {"face": ("identity",), "face+mirror": ("identity", "hflip")}


def member_probabilities(names, splits):
    """probs[name][split][view]: float (N, 7) for each candidate member and view."""
    probs = {}
    for name in names:
        clf = load_classifier(WEIGHTS_DIR / name)
        probs[name] = {}
        for s in SPLITS:
            x = clf.spec.crops(splits[s].images)
            probs[name][s] = {v: clf.probabilities(view(x, v)) for v in TTA_VIEWS}
        print(f"scored {name}", file=sys.stderr)
    return probs


def main(names, out="results/ensemble-ablation.json", manifest="edgefer/weights/fernet-ens.json"):
    splits = load_splits(dataset_root() / "fer2013", progress=False)
    probs = member_probabilities(names, splits)
    rows = []
    for k in range(1, len(names) + 1):
        for subset in itertools.combinations(names, k):
            for view, tta in VIEWS.items():
                row = {"members": list(subset), "views": view}
                for s in SPLITS:
                    p = np.mean([probs[m][s][v] for m in subset for v in tta], axis=0)
                    row[s] = round(float((p.argmax(1) == splits[s].labels).mean()), 4)
                rows.append(row)
    best = max(rows, key=lambda r: (r["publictest"], -len(r["members"]), -len(VIEWS[r["views"]])))
    for r in sorted(rows, key=lambda r: -r["publictest"]):
        mark = "  <- chosen" if r is best else ""
        print(f"{' + '.join(r['members']):90s} {r['views']:12s} "
              f"public {r['publictest']:.4f} private {r['privatetest']:.4f}{mark}", file=sys.stderr)
    write_json(out, {"chosen": best, "rule": "best PublicTest accuracy; ties to fewer members, then fewer views",
                     "subsets": rows,
                     "provenance": provenance(data="fer2013", split="publictest (choice), privatetest (all images)",
                                              script="scripts/select_ensemble.py")})
    n = len(best["members"])
    write_json(manifest, {
        "format": "edgefer-ensemble", "version": 1, "name": "fernet-ens",
        "description": f"{n} int8 FERNet{'s' if n > 1 else ''} trained on FER-2013 Training, chosen on PublicTest; "
                       f"probabilities averaged over the members"
                       + (" and over the face and its mirror image" if best["views"] == "face+mirror" else ""),
        "members": best["members"], "tta": list(VIEWS[best["views"]]),
        "trained_on": {"data": "fer2013", "split": "train"}})
    print(json.dumps(best), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
