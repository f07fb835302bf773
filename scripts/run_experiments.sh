#!/usr/bin/env bash
# Run the paper's experiments one after another at one budget (default: reduced), then regenerate
# REPORT.md from the result JSON. Each experiment resumes where it stopped, so rerunning this
# script after an interruption continues the work. Usage:
#   BUDGET=reduced EXPERIMENTS="table1 fig5 cv fig6 ablation" scripts/run_experiments.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-reduced}
for e in ${EXPERIMENTS:-table1 fig5 cv fig6 ablation}; do
  echo "== $(date -u +%FT%TZ) experiment $e ($BUDGET)"
  .venv/bin/edgefer experiment "$e" --budget "$BUDGET" --out results
  .venv/bin/edgefer report --results results --out REPORT.md || true
done
echo "== $(date -u +%FT%TZ) done"
