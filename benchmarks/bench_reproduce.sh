#!/usr/bin/env bash
# Time `make reproduce` end to end and per notebook from an empty run store, and keep the records:
# benchmarks/results/reproduce-<profile>.json (timings, for the performance chapter) and
# benchmarks/results/summary-<profile>.json (every cell, the teacher, the claims, the CPU:
# to compare a run on another machine cell by cell).
#   benchmarks/bench_reproduce.sh [PROFILE]      (default cpu; the current runs/ is moved to runs.previous/)
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-cpu}"
if [ -d runs ]; then
  rm -rf runs.previous
  mv runs runs.previous
  echo "moved the existing run store to runs.previous/"
fi
make reproduce PROFILE="$profile"
mkdir -p benchmarks/results
cp book/_executed/timings.json "benchmarks/results/reproduce-$profile.json.tmp"
mv "benchmarks/results/reproduce-$profile.json.tmp" "benchmarks/results/reproduce-$profile.json"
echo "wrote benchmarks/results/reproduce-$profile.json"
.venv/bin/python -m aicsd.study.record --profile "$profile" --timings "benchmarks/results/reproduce-$profile.json"
