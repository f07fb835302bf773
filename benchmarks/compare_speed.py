"""Face crops/s and end-to-end frames/s of a few models, timed in alternation on this machine.

``edgefer bench`` times the shipped models once each; a model that is not shipped (a student's
int8 copy under runs/) and a second or third round, interleaved so that the VM's drift in speed
falls on every model alike, are what this adds. It uses ``edgefer.bench.recognizer_speed``
(batch 256), prints one JSON object and writes it with its provenance.

    .venv/bin/python benchmarks/compare_speed.py fast runs/fernet-kdf1/fernet-kdf1-int8.onnx \
        --rounds 3 --out results/fast-candidates-speed.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="shipped model names or model files (.onnx, .pt, .json)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all the models (default 3)")
    ap.add_argument("--repeats", type=int, default=7, help="timed batches per crops/s figure (median)")
    ap.add_argument("--frames", type=int, default=30, help="frames of the synthetic video per round")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.repeats < 1 or args.frames < 1:
        ap.error("--rounds, --repeats and --frames must be 1 or more")

    from edgefer.bench import recognizer_speed
    from edgefer.recognize import Recognizer
    from edgefer.results import provenance, write_json

    recognizers = {}
    for m in args.models:
        try:
            recognizers[m] = Recognizer(m)
        except (OSError, ValueError) as exc:
            print(f"compare_speed: {m}: {exc}", file=sys.stderr)
            return 2
    runs = {m: [] for m in args.models}
    for r in range(args.rounds):
        for m, rec in recognizers.items():
            runs[m].append(recognizer_speed(rec, repeats=args.repeats, frames=args.frames))
            print(f"round {r + 1}: {m}: {runs[m][-1]['crops_per_s']:,.0f} crops/s", file=sys.stderr)
    out = {"models": {m: {"crops_per_s": [x["crops_per_s"] for x in rs],
                          "crops_per_s_median": statistics.median(x["crops_per_s"] for x in rs),
                          "e2e_fps": [x["e2e_fps"] for x in rs]} for m, rs in runs.items()},
           "provenance": provenance(
               data="random crops at each model's input size (batch 256) and a synthetic 640x480 video",
               script="benchmarks/compare_speed.py", rounds=args.rounds, repeats=args.repeats)}
    print(json.dumps(out))
    if args.out:
        write_json(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
