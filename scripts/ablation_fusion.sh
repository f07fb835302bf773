#!/usr/bin/env bash
# Short-budget ablation of edge fusion in the shipped model's family: the same recipe as
# scripts/train_shipped.sh, EPOCHS epochs (default 3), with fusion none and feature; writes
# results/ablation-fusion.json via edgefer's own evaluate command on PublicTest.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${EDGEFER_DATASETS:-$(cd .. && pwd)/shared/datasets}/fer2013
EPOCHS=${EPOCHS:-3}
# as scripts/train_shipped.sh: bf16 where the CPU runs it natively, else fp32; a resumed run keeps
# the precision it was started with; PRECISION overrides
for fu in none feature; do
  out=runs/ablation-fusion-$fu
  prec=${PRECISION:-$(.venv/bin/python -m edgefer.cpu "$out")}
  args=(--data "$DATA" --model fernet --arg "fusion='$fu'" --epochs "$EPOCHS" --batch-size 128 --lr 0.1
        --warmup 1 --label-smoothing 0.1 --augment standard --precision "$prec" --weight-decay 5e-4 --out "$out")
  if [ -f "$out/last.pt" ]; then args+=(--resume); fi
  .venv/bin/edgefer train "${args[@]}"
  .venv/bin/edgefer evaluate --data "$DATA" --model "$out/best.pt" --split publictest --no-twins \
    --out "results/ablation-fusion-$fu" --json > /dev/null
done
.venv/bin/python - <<'PY'
import json
from edgefer.results import provenance, write_json
res = {}
for fu in ("none", "feature"):
    m = json.load(open(f"results/ablation-fusion-{fu}/metrics.json"))
    h = json.load(open(f"runs/ablation-fusion-{fu}/history.json"))
    res[fu] = {"publictest_accuracy": m["accuracy"], "publictest_macro_f1": m["macro_f1"],
               "epochs": len(h), "train_seconds": h[-1]["seconds"]}
res["fusion_gain_points"] = round(100 * (res["feature"]["publictest_accuracy"] - res["none"]["publictest_accuracy"]), 2)
res["provenance"] = provenance(data="fer2013", split="train -> publictest", script="scripts/ablation_fusion.sh")
write_json("results/ablation-fusion.json", res)
print(json.dumps({k: v for k, v in res.items() if k != "provenance"}, indent=1))
PY
