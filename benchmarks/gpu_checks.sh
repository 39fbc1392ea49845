#!/usr/bin/env bash
# The GPU checks of the paper-scale path, in one go, each step under its own time limit:
#   1. pytest -k cuda                      the CUDA tests (tests/test_cuda.py and the CUDA cases elsewhere)
#   2. bench_losses.py --device cuda       ICSD: class-pair loop against the vectorised losses
#   3. bench_step.py --device cuda         one distillation step at the paper setting, released-style vs ours
#   4. bench_paper_run.py                  paper profile on CamVid: teacher, AICSD student, evaluate
#   5. bench_step.py --device cuda --compile   with the seconds left of TOTAL_S
# Records (JSON) go to RESULTS; each step's log and a summary (step, exit status, seconds) to LOGS.
#   benchmarks/gpu_checks.sh CAMVID_ROOT [RESULTS] [LOGS]
# Environment: TOTAL_S (default 560) bounds the whole script; PAPER_EPOCHS (default 14) the two runs.
set -uo pipefail
cd "$(dirname "$0")/.."
camvid="${1:?usage: benchmarks/gpu_checks.sh CAMVID_ROOT [RESULTS] [LOGS]}"
results="${2:-benchmarks/results}"
logs="${3:-$results/logs}"
total_s="${TOTAL_S:-560}"
paper_epochs="${PAPER_EPOCHS:-14}"
python="${PYTHON:-python3}"
mkdir -p "$results" "$logs"
export PYTHONUNBUFFERED=1
started=$(date +%s)
summary="$logs/summary.tsv"
printf 'step\texit\tseconds\n' > "$summary"

step() {  # step NAME LIMIT_S COMMAND...: run COMMAND under LIMIT_S seconds, log to LOGS/NAME.log
  local name="$1" limit="$2"
  shift 2
  local begin=$(date +%s)
  echo "== $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" > "$logs/$name.log" 2>&1
  local status=$?
  printf '%s\t%s\t%s\n' "$name" "$status" "$(( $(date +%s) - begin ))" | tee -a "$summary"
  tail -n 25 "$logs/$name.log"
}

step environment 30 bash -c "nvidia-smi; $python -c 'import torch, torchvision, platform; print(platform.python_version(), torch.__version__, torchvision.__version__, torch.cuda.get_device_name(), torch.cuda.is_bf16_supported())'"
step pytest_cuda 120 "$python" -m pytest -q -k cuda -p no:cacheprovider tests/test_cuda.py tests/test_losses_icsd.py tests/test_bench_step.py
step bench_losses 60 "$python" benchmarks/bench_losses.py --device cuda --output "$results"
step bench_step 110 "$python" benchmarks/bench_step.py --device cuda --output "$results"
step paper_run 270 "$python" benchmarks/bench_paper_run.py --data-root "$camvid" --epochs "$paper_epochs" --timeout 125 --output "$results" --logs "$logs"
left=$(( total_s - ($(date +%s) - started) ))
if [ "$left" -gt 30 ]; then
  step bench_step_compile "$left" "$python" benchmarks/bench_step.py --device cuda --compile --output "$results"
else
  printf 'bench_step_compile\tskipped (%ss left)\t0\n' "$left" | tee -a "$summary"
fi
echo "== done in $(( $(date +%s) - started ))s"
cat "$summary"
