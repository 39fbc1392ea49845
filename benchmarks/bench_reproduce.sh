#!/usr/bin/env bash
# Time `make reproduce` end to end and per notebook from an empty run store, and keep the records:
# benchmarks/results/reproduce-<profile>.json (timings, for the performance chapter) and
# benchmarks/results/summary-<profile>.json (every cell, the teacher, the claims, the CPU:
# to compare a run on another machine cell by cell).
#   benchmarks/bench_reproduce.sh [PROFILE [DATASET DATA_ROOT]]
# (default cpu on the generated dataset; the current runs/ is moved to runs.previous/). For a real
# dataset the records are named reproduce-<profile>-<dataset>.json and summary-<profile>-<dataset>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-cpu}"
dataset="${2:-synthetic}"
data_root="${3:-}"
name="$profile"
[ "$dataset" = synthetic ] || name="$profile-$dataset"
if [ -d runs ]; then
  rm -rf runs.previous
  mv runs runs.previous
  echo "moved the existing run store to runs.previous/"
fi
make reproduce PROFILE="$profile" DATASET="$dataset" DATA_ROOT="$data_root"
mkdir -p benchmarks/results
cp book/_executed/timings.json "benchmarks/results/reproduce-$name.json.tmp"
mv "benchmarks/results/reproduce-$name.json.tmp" "benchmarks/results/reproduce-$name.json"
echo "wrote benchmarks/results/reproduce-$name.json"
.venv/bin/python -m aicsd.study.record --profile "$profile" --dataset "$dataset" ${data_root:+--data-root "$data_root"} --timings "benchmarks/results/reproduce-$name.json"
