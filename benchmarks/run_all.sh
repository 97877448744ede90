#!/usr/bin/env bash
# Reproduce the committed benchmark results (docs/benchmarks.md).
#
# For every data set: tune M2m's hyper-parameters on a validation split carved from the
# training data (benchmarks.tune_m2m -> benchmarks/results/tuning/<tag>.{json,md}), then run the
# benchmark with the chosen values (-> benchmarks/results/tabular/<tag>/). The digits-LT run is the
# plain default command, whose M2m defaults are the values tuned on digits-LT.
#
# Usage: bash benchmarks/run_all.sh [tag ...]   (no tag: everything, sequentially)
# Environment: PYTHON (default: python), LOG_DIR (default: bench_out/logs), M2M_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
LOG=${LOG_DIR:-bench_out/logs}
mkdir -p "$LOG" benchmarks/results/tuning benchmarks/results/tabular

stamp() { date -u +%H:%M:%S; }

# run_set TAG EPOCHS REPEATS DATA-ARGS...
run_set() {
  local tag=$1 epochs=$2 repeats=$3
  shift 3
  local t0 t1 args
  t0=$(date +%s)
  echo "$(stamp) tune $tag" | tee -a "$LOG/run_all.log"
  "$PY" -m benchmarks.tune_m2m "$@" --epochs "$epochs" --repeats "$repeats" \
    --out benchmarks/results/tuning >"$LOG/tune_$tag.log" 2>&1
  args=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['bench_args'])" \
    "benchmarks/results/tuning/$tag.json")
  t1=$(date +%s)
  echo "$(stamp) bench $tag ($args), tuning took $((t1 - t0)) s" | tee -a "$LOG/run_all.log"
  # shellcheck disable=SC2086  # $args holds several options
  "$PY" -m benchmarks.tabular "$@" --epochs "$epochs" $args \
    --out "benchmarks/results/tabular/$tag" >"$LOG/bench_$tag.log" 2>&1
  echo "$(stamp) done $tag, bench took $(($(date +%s) - t1)) s" | tee -a "$LOG/run_all.log"
}

digits() {
  local t0
  t0=$(date +%s)
  echo "$(stamp) tune digits-lt" | tee -a "$LOG/run_all.log"
  "$PY" -m benchmarks.tune_m2m --dataset digits-lt --epochs 100 --repeats 3 \
    --out benchmarks/results/tuning >"$LOG/tune_digits-lt.log" 2>&1
  echo "$(stamp) bench digits-lt (defaults), tuning took $(($(date +%s) - t0)) s" \
    | tee -a "$LOG/run_all.log"
  t0=$(date +%s)
  "$PY" -m benchmarks.compare --out benchmarks/results/digits_lt >"$LOG/bench_digits-lt.log" 2>&1
  echo "$(stamp) done digits-lt, bench took $(($(date +%s) - t0)) s" | tee -a "$LOG/run_all.log"
}

all_tags=(digits-lt ecoli ecoli_min5 glass dermatology
  satimage_r10 satimage_r100 optdigits_r10 optdigits_r100
  pendigits_r10 pendigits_r100 letter_r10 letter_r100)
tags=("$@")
[ ${#tags[@]} -eq 0 ] && tags=("${all_tags[@]}")

for tag in "${tags[@]}"; do
  case $tag in
    digits-lt) digits ;;
    ecoli | glass | dermatology) run_set "$tag" 100 3 --dataset "$tag" ;;
    ecoli_min5) run_set "$tag" 100 3 --dataset ecoli --min-class-count 5 ;;
    *_r10 | *_r100)
      name=${tag%_r*}
      rho=${tag##*_r}
      run_set "$tag" 30 2 --dataset "$name" --imbalance-ratio "$rho"
      ;;
    *) echo "unknown tag $tag; choose from: ${all_tags[*]}" >&2 && exit 2 ;;
  esac
done
