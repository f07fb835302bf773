"""What each part of the default model adds: members alone or together, with and without the
mirror view, on all of PublicTest and PrivateTest. Writes results/ensemble-ablation.json.

    .venv/bin/python scripts/ensemble_ablation.py
"""
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgefer.classifiers import EnsembleClassifier
from edgefer.data.load import dataset_root, load_splits
from edgefer.recognize import WEIGHTS_DIR
from edgefer.results import provenance, write_json

MEMBERS = {"plain": ["fernet-int8.onnx"], "fusion": ["fernet-fusion-int8.onnx"],
           "plain+fusion": ["fernet-int8.onnx", "fernet-fusion-int8.onnx"]}
VIEWS = {"face": ["identity"], "face+mirror": ["identity", "hflip"]}


def main(out="results/ensemble-ablation.json"):
    splits = load_splits(dataset_root() / "fer2013", progress=False)
    res = {}
    with tempfile.TemporaryDirectory(dir=WEIGHTS_DIR.parent) as tmp:
        for m, members in MEMBERS.items():
            for v, tta in VIEWS.items():
                path = Path(tmp) / "m.json"
                path.write_text(json.dumps({"format": "edgefer-ensemble", "version": 1, "tta": tta,
                                            "members": [str(WEIGHTS_DIR / x) for x in members]}))
                clf = EnsembleClassifier(path)
                row = {}
                for s in ("publictest", "privatetest"):
                    ds = splits[s]
                    pred = clf.probabilities(clf.spec.crops(ds.images)).argmax(1)
                    row[s] = round(float((pred == ds.labels).mean()), 4)
                res[f"{m} | {v}"] = row
                print(f"{m:14s} {v:12s} {row}", file=sys.stderr)
    res["provenance"] = provenance(data="fer2013", split="publictest, privatetest (all images)",
                                   script="scripts/ensemble_ablation.py")
    write_json(out, res)


if __name__ == "__main__":
    main(*sys.argv[1:])
