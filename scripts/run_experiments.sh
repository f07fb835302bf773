#!/usr/bin/env bash
# Run the paper's experiments at one budget (default: reduced), then regenerate REPORT.md from
# the result JSON. table1 (timing) runs first, alone; the training experiments then run in two
# one-thread lanes, which on a 2-core CPU is no slower than one two-thread lane. Each experiment
# resumes where it stopped, so rerunning this script after an interruption continues the work.
#   BUDGET=reduced scripts/run_experiments.sh
#   LANES="fig5,ablation cv,fig6" scripts/run_experiments.sh   # lanes space-separated, comma inside
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-reduced}
LANES=${LANES:-"fig5,ablation cv,fig6"}
mkdir -p results/runs
.venv/bin/edgefer experiment table1 --budget "$BUDGET" --out results
run_lane() {
  for e in ${1//,/ }; do
    echo "== $(date -u +%FT%TZ) experiment $e ($BUDGET)"
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/edgefer experiment "$e" --budget "$BUDGET" --out results --threads 1
  done
}
pids=()
i=0
for lane in $LANES; do
  run_lane "$lane" > "results/runs/lane$i.log" 2>&1 &
  pids+=($!)
  i=$((i + 1))
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
.venv/bin/edgefer report --results results --out REPORT.md
echo "== $(date -u +%FT%TZ) done (status $status)"
exit $status
