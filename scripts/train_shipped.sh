#!/usr/bin/env bash
# Trains the shipped model (fernet) on FER-2013 Training, choosing the epoch on PublicTest.
# Resumable: run it again after an interruption and it continues from runs/fernet/last.pt.
set -euo pipefail
DATA=${EDGEFER_DATASETS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/datasets}/fer2013
OUT=${OUT:-runs/fernet}
# bf16 autocast where the CPU runs it natively (AVX-512 BF16 or AMX), fp32 elsewhere (emulated bf16
# is 13-14x slower); a resumed run keeps the precision it was started with. PRECISION overrides.
PRECISION=${PRECISION:-$("$(dirname "$(command -v edgefer)")/python" -m edgefer.cpu "$OUT")}
ARGS=(--data "$DATA" --model fernet --epochs "${EPOCHS:-40}" --batch-size "${BATCH:-128}" --lr "${LR:-0.1}" --warmup 1
      --label-smoothing 0.1 --augment standard --precision "$PRECISION" --weight-decay 5e-4
      --checkpoint-every 100 --out "$OUT" ${EXTRA:-})
if [ -f "$OUT/last.pt" ]; then ARGS+=(--resume); fi
# the one lock of heavy jobs (EDGEFER_LOCK, default /tmp/edgefer-heavy.lock; empty: none), so that
# training never shares the cores with an experiment unit or a benchmark
LOCK=$("$(dirname "$(command -v edgefer)")/python" -m edgefer.cpu lock)
if [ -n "$LOCK" ]; then exec flock "$LOCK" edgefer train "${ARGS[@]}"; fi
exec edgefer train "${ARGS[@]}"
