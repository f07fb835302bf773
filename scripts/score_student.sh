#!/usr/bin/env bash
# Score a new student and run the role rule again with it among the candidates. Moves no file:
# if the student wins a role, shipping it is a reviewed commit (copy it into edgefer/weights under a
# name that says what it is, rerun scripts/choose_models.py, commit results/model-choice.json).
#   scripts/score_student.sh NAME      # runs/NAME/best.pt (edgefer train, or gpu_kit.py unpack)
# 1. exports its int8 copy to runs/NAME/NAME-int8.onnx (never overwriting one);
# 2. writes runs/eval-NAME-int8-{publictest-ferplus,privatetest,ferplus}.json and prints them
#    (its LFW scores come from step 3);
# 3. runs scripts/choose_models.py with it (the other candidates' probabilities are cached in
#    runs/select-cache) into runs/model-choice-NAME.json, and says which role it would change.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:?usage: scripts/score_student.sh NAME (runs/NAME/best.pt)}
CKPT=runs/$NAME/best.pt
[ -f "$CKPT" ] || { echo "score_student: $CKPT: no such checkpoint" >&2; exit 1; }
M=runs/$NAME/$NAME-int8.onnx
[ -e "$M" ] && { echo "score_student: $M exists; move it first" >&2; exit 1; }
DATA=${EDGEFER_DATASETS:-../shared/datasets}
.venv/bin/edgefer export --model "$CKPT" --format onnx --int8 --out "$M"
ev() { .venv/bin/edgefer evaluate --model "$M" --json "$@"; }
ev --data "$DATA/fer2013" --split publictest --labels ferplus > "runs/eval-$NAME-int8-publictest-ferplus.json"
ev --data "$DATA/fer2013" --split privatetest > "runs/eval-$NAME-int8-privatetest.json"
ev --data "$DATA/fer2013" --split privatetest --labels ferplus > "runs/eval-$NAME-int8-ferplus.json"
for f in runs/eval-$NAME-int8-*.json; do
  echo "$f $(.venv/bin/python -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["accuracy"], r.get("balanced_accuracy"))' "$f")"
done
.venv/bin/python scripts/choose_models.py "$M" --out "runs/model-choice-$NAME.json" --plots "runs/model-choice-$NAME"
.venv/bin/python - "$NAME" <<'PY'
import json, sys
name = sys.argv[1]
now = json.load(open(f"runs/model-choice-{name}.json"))["winners"]
was = json.load(open("results/model-choice.json"))["winners"]
for role in now:
    same = now[role]["members"] == was[role]["members"] and now[role]["views"] == was[role]["views"]
    print(f"score_student: {role}: {'unchanged' if same else 'would change to ' + ' + '.join(now[role]['members']) + ' (' + now[role]['views'] + ')'}")
PY
