#!/usr/bin/env bash
# Trains the shipped model (fernet) on FER-2013 Training, choosing the epoch on PublicTest.
# Resumable: run it again after an interruption and it continues from runs/fernet/last.pt.
set -euo pipefail
DATA=${EDGEFER_DATASETS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/datasets}/fer2013
OUT=${OUT:-runs/fernet}
ARGS=(--data "$DATA" --model fernet --epochs "${EPOCHS:-40}" --batch-size "${BATCH:-128}" --lr "${LR:-0.1}" --warmup 1
      --label-smoothing 0.1 --augment standard --precision bf16 --weight-decay 5e-4
      --checkpoint-every 100 --out "$OUT" ${EXTRA:-})
if [ -f "$OUT/last.pt" ]; then ARGS+=(--resume); fi
exec edgefer train "${ARGS[@]}"
