#!/usr/bin/env bash
# Short real training runs of the paper's net and its two contrast models on FER-2013 Training
# (STEPS iterations of batch 48, default 200, fp32 cross-entropy, lr 0.01 SGD), evaluated on
# PublicTest; writes results/short-runs.json. A smoke-level check that each model learns, not a
# reproduction of the paper's numbers (see `edgefer experiment`).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${EDGEFER_DATASETS:-$(cd .. && pwd)/shared/datasets}/fer2013
STEPS=${STEPS:-200}
# LR defaults to 0.01; the edge-fused paper net (no batch norm) needs LR=0.002 or it diverges.
for m in ${MODELS:-edgecnn48 rcnn frrcnn}; do
  out=runs/short-$m
  args=(--data "$DATA" --model "$m" --epochs 1 --max-steps "$STEPS" --batch-size 48 --lr "${LR:-0.01}"
        --val-split none --out "$out")
  if [ -f "$out/last.pt" ]; then args+=(--resume); else rm -rf "$out"; fi
  .venv/bin/edgefer train "${args[@]}"
  .venv/bin/edgefer evaluate --data "$DATA" --model "$out/best.pt" --split publictest --no-twins \
    --out "results/short-$m" --json > /dev/null
done
.venv/bin/python - <<'PY'
import json, os
from edgefer.results import provenance, write_json
path = "results/short-runs.json"
res = json.load(open(path)) if os.path.exists(path) else {}  # other models' earlier runs stay
for m in os.environ.get("MODELS", "edgecnn48 rcnn frrcnn").split():
    r = json.load(open(f"results/short-{m}/metrics.json"))
    res[m] = {"publictest_accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}
res["provenance"] = provenance(data="fer2013", split="train -> publictest",
                               steps=int(os.environ.get("STEPS", 200)), batch=48, lr={m: os.environ.get("LR", "0.01") for m in os.environ.get("MODELS", "edgecnn48 rcnn frrcnn").split()}, script="scripts/short_runs.sh")
write_json(path, res)
print(json.dumps({k: v for k, v in res.items() if k != "provenance"}, indent=1))
PY
