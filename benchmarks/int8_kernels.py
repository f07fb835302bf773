"""Accuracy and speed of the shipped int8 models under each way ONNX Runtime can run them.

For each model and each int8 mode (``fused``, ``u8u8``, ``reference``: see
``edgefer.export.int8_mode``) it scores all of FER-2013 PublicTest and times the same pass
(batch 256, the classifier's own batching), then prints one JSON object and writes it with its
provenance. On a CPU without VNNI the ``fused`` kernels saturate and lose accuracy; the other two
give the quantized model's own results.

    .venv/bin/python benchmarks/int8_kernels.py --out results/int8-kernels.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
MODES = ("fused", "u8u8", "reference")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=None,
                    help="shipped model names or .onnx files (default: every int8 file the package ships)")
    ap.add_argument("--data", default=None, help="FER-2013 folder (default: $EDGEFER_DATASETS/fer2013)")
    ap.add_argument("--split", default="publictest")
    ap.add_argument("--out", default=None, help="also write the JSON here, with provenance")
    args = ap.parse_args(argv)

    from edgefer.classifiers import load_classifier
    from edgefer.data.load import dataset_root, load_dataset
    from edgefer.recognize import WEIGHTS_DIR, resolve_model
    from edgefer.results import provenance, write_json

    models = args.models or sorted(p.stem for p in WEIGHTS_DIR.glob("*-int8.onnx"))
    root = Path(args.data) if args.data else dataset_root() / "fer2013"
    ds = load_dataset(root, split=args.split, progress=False)
    rows = []
    for name in models:
        path = resolve_model(name)
        crops = None
        for mode in MODES:
            os.environ["EDGEFER_INT8_KERNELS"] = mode
            clf = load_classifier(path)
            if crops is None:
                crops = clf.spec.crops(ds.images)
            clf.probabilities(crops[:256])  # warm up
            t = time.perf_counter()
            probs = clf.probabilities(crops)
            seconds = time.perf_counter() - t
            acc = float((probs.argmax(1) == ds.labels).mean())
            rows.append({"model": name, "mode": clf.int8_mode, "accuracy": round(acc, 4),
                         "crops_per_s": round(len(crops) / seconds, 1)})
            print(f"{name:20s} {clf.int8_mode:10s} {acc:.2%}  {len(crops) / seconds:7.0f} crops/s",
                  file=sys.stderr)
    os.environ.pop("EDGEFER_INT8_KERNELS", None)
    result = {"split": args.split, "n": len(ds), "rows": rows}
    if args.out:
        write_json(args.out, {**provenance(data=root.name, split=args.split,
                                           script="benchmarks/int8_kernels.py"), **result})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
