#!/usr/bin/env bash
# Score a new student, then choose the default again with it among the candidates.
#   scripts/score_student.sh NAME      # runs/NAME/best.pt, from scripts/train_shipped.sh or gpu_kit.py unpack
# 1. exports its int8 copy to candidates/NAME-int8.onnx;
# 2. writes runs/eval-NAME-{publictest,privatetest}.json (float) and
#    runs/eval-NAME-int8-{publictest,privatetest,ferplus}.json and prints their accuracies;
# 3. runs scripts/select_ensemble.py over build_shipped.sh's CANDIDATES and it (the members'
#    probabilities are cached in runs/select-cache, so this scores the new one alone).
# If the default (edgefer/weights/fernet-ens.json) did not change, the manifest and the ensemble
# table are checked out again and the int8 file goes back to runs/NAME/, so the repository does
# not grow; otherwise add the student to CANDIDATES in build_shipped.sh and commit what moved.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:?usage: scripts/score_student.sh NAME (runs/NAME/best.pt)}
CKPT=runs/$NAME/best.pt
[ -f "$CKPT" ] || { echo "score_student: $CKPT: no such checkpoint" >&2; exit 1; }
M=$NAME-int8
DATA=${EDGEFER_DATASETS:-../shared/datasets}/fer2013
[ -e "candidates/$M.onnx" ] && { echo "score_student: candidates/$M.onnx exists; move it first" >&2; exit 1; }
.venv/bin/edgefer export --model "$CKPT" --format onnx --int8 --out "candidates/$M.onnx"
for split in publictest privatetest; do
  .venv/bin/edgefer evaluate --data "$DATA" --split $split --model "candidates/$M.onnx" --json > "runs/eval-$M-$split.json"
  .venv/bin/edgefer evaluate --data "$DATA" --split $split --model "$CKPT" --json > "runs/eval-$NAME-$split.json"
done
.venv/bin/edgefer evaluate --data "$DATA" --split privatetest --labels ferplus --model "candidates/$M.onnx" --json > "runs/eval-$M-ferplus.json"
for f in runs/eval-$NAME-*.json runs/eval-$M-*.json; do
  echo "$f $(.venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$f")"
done
{ read -r W; read -r C; } < <(.venv/bin/python scripts/select_ensemble.py --folders)
PATHS=()
for m in $(sed -n '/^CANDIDATES=(/,/^)/p' scripts/build_shipped.sh | grep -o '^  fernet[a-z0-9-]*-int8'); do
  for d in $W $C; do if [ -f "$d/$m.onnx" ]; then PATHS+=("$d/$m.onnx"); fi; done
done
echo "score_student: choosing among ${#PATHS[@]} candidates and $M"
.venv/bin/python scripts/select_ensemble.py "${PATHS[@]}" "candidates/$M.onnx"
same=$(.venv/bin/python - <<'PY'
import json, subprocess
head = json.loads(subprocess.run(["git", "show", "HEAD:edgefer/weights/fernet-ens.json"], capture_output=True, check=True).stdout)
now = json.load(open("edgefer/weights/fernet-ens.json"))
print(int(all(head[k] == now[k] for k in ("members", "tta"))))
PY
)
if [ "$same" = 1 ]; then
  git checkout -- edgefer/weights/fernet-ens.json results/ensemble-ablation.json
  mv "candidates/$M.onnx" "runs/$NAME/$M.onnx"
  echo "score_student: the default is unchanged; $M is kept in runs/$NAME/"
else
  echo "score_student: the default changed:"; git diff --stat
fi
