#!/usr/bin/env bash
# Build the shipped int8 models and the default ensemble from trained checkpoints:
#   edgefer/weights/fernet-int8.onnx         fernet.pt (no fusion), int8
#   edgefer/weights/fernet-fusion-int8.onnx  FUSION checkpoint (fernet with edge fusion), int8
#   edgefer/weights/fernet-ens.json          both, averaged over the face and its mirror image
# then score each on PublicTest and PrivateTest (results/shipped-models.json) and write the
# scores into the manifest. FUSION defaults to runs/fernet-fusion/best.pt, trained by
#   OUT=runs/fernet-fusion EPOCHS=20 scripts/train_shipped.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FUSION=${FUSION:-runs/fernet-fusion/best.pt}
W=edgefer/weights
.venv/bin/edgefer export --model fernet --format onnx --int8 --out $W/fernet-int8.onnx --overwrite
.venv/bin/edgefer export --model "$FUSION" --format onnx --int8 --out $W/fernet-fusion-int8.onnx --overwrite
.venv/bin/python - <<'PY'
import json
from edgefer.results import write_json
write_json("edgefer/weights/fernet-ens.json", {
    "format": "edgefer-ensemble", "version": 1, "name": "fernet-ens",
    "description": "two int8 FERNets trained on FER-2013 Training (one plain, one with Kirsch edges "
                   "fused after stage 1), probabilities averaged over the face and its mirror image",
    "members": ["fernet-int8.onnx", "fernet-fusion-int8.onnx"], "tta": ["identity", "hflip"],
    "trained_on": {"data": "fer2013", "split": "train"}})
PY
D=${EDGEFER_DATASETS:-$(cd .. && pwd)/shared/datasets}/fer2013
for m in fernet fernet-int8 fernet-fusion-int8 fernet-ens; do
  for s in publictest privatetest; do
    .venv/bin/edgefer evaluate --data "$D" --split $s --model $m --json > runs/eval-$m-$s.json
  done
done
.venv/bin/python - <<'PY'
import json
from edgefer.results import provenance, write_json
res = {}
for m in ["fernet", "fernet-int8", "fernet-fusion-int8", "fernet-ens"]:
    res[m] = {}
    for s in ["publictest", "privatetest"]:
        r = json.load(open(f"runs/eval-{m}-{s}.json"))
        res[m][s] = {k: r[k] for k in ("accuracy", "macro_f1", "accuracy_without_twins") if k in r}
path = "edgefer/weights/fernet-ens.json"
man = json.load(open(path))
man["scores"] = {f"{s}_accuracy": round(res["fernet-ens"][s]["accuracy"], 4) for s in ["publictest", "privatetest"]}
write_json(path, man)
res["provenance"] = provenance(data="fer2013", split="publictest (model choice), privatetest (report)",
                               script="scripts/build_shipped.sh")
write_json("results/shipped-models.json", res)
print(json.dumps({m: {s: round(v["accuracy"], 4) for s, v in r.items()} for m, r in res.items() if m != "provenance"}, indent=1))
PY
