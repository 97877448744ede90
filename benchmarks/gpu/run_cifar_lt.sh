#!/usr/bin/env bash
# CIFAR-LT-10 (imbalance ratio 100) on one GPU: ERM g + ERM f to epoch 160, then DRS and
# M2m from that same state to epoch 200, with one seed. See docs/reproduction.md.
#
# Run from the repository root on the device machine, with .whl/ (skorch, imbalanced-learn,
# sklearn-compat, tabulate wheels) and .data/cifar10_r100.tar.xz carried:
#     bash benchmarks/gpu/run_cifar_lt.sh
# Writes under $OUT (default ./gpu_out): cifar_lt_r100.json (the report), one log per
# phase, smoke.json, checks.txt, gpu_util.csv, environment.txt and the cache (g and the
# epoch-160 trunk, a few MB, reusable with --cache-dir).
#
# Schedule (everything is printed with a time stamp):
#   0. install the carried wheels, unpack the data                          (~10 s)
#   1. checks: CUDA-graph training == eager training (pytest), then the example's --smoke
#      run on the GPU with the fast options; if a check fails, the next, plainer option
#      set is tried (--fast -> bf16+channels_last -> plain)                  (~40 s)
#   2. g (200 epochs) and the ERM trunk (160 epochs) as two parallel processes
#   3. DRS and M2m (epochs 160-200) as two parallel processes
#   4. the report, assembled from the cache (also when a phase failed or timed out)
# The whole script keeps to DEADLINE_S seconds (default 570) so that a 600 s device
# command always returns the report.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-$PWD/gpu_out}
DEADLINE_S=${DEADLINE_S:-570}
SEED=${SEED:-0}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu EXTRA="--smoke --threads 1" rehearses the script on a CPU
EXTRA=${EXTRA:-}
mkdir -p "$OUT"
T0=$(date +%s)
DEADLINE=$((T0 + DEADLINE_S))
log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( DEADLINE - $(date +%s) )); }

# ---------------------------------------------------------------- 0. environment
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
DATA=/tmp/cifar_data
python3 - "$DATA" <<'EOF' || exit 1
import sys, tarfile
from pathlib import Path
dest = Path(sys.argv[1]); dest.mkdir(parents=True, exist_ok=True)
packed = Path(".data/cifar10_r100.tar.xz")
if packed.exists():
    with tarfile.open(packed) as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # Python without extraction filters
            tar.extractall(dest)
else:  # the shared npz files copied as they are
    for name in ("cifar10_lt_train_r100.npz", "cifar10_test.npz"):
        (dest / name).symlink_to(Path(".data", name).resolve())
print("data:", sorted(p.name for p in dest.iterdir()))
EOF
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, sklearn, skorch, imblearn; print('torch', torch.__version__, \
'cuda', torch.version.cuda, torch.cuda.get_device_name(), '| sklearn', sklearn.__version__, \
'skorch', skorch.__version__, 'imblearn', imblearn.__version__)"
  nproc
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 \
  > "$OUT/gpu_util.csv" 2>/dev/null &
SMI=$!
log "environment ready"

# ---------------------------------------------------------------- 1. checks
OPTION_SETS=("--fast" "--amp bf16 --channels-last --translate-ahead 8" "--translate-ahead 8")
START_SET=0
if ! timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_graphs.py \
    > "$OUT/checks.txt" 2>&1; then
  log "pytest checks failed (see checks.txt); not using CUDA graphs"
  START_SET=1
fi
tail -n 3 "$OUT/checks.txt"
FAST=""
for ((i = START_SET; i < ${#OPTION_SETS[@]}; i++)); do
  opts=${OPTION_SETS[$i]}
  log "smoke run with: $opts"
  if timeout 120 python3 examples/cifar_lt.py --smoke --device "$DEVICE" $opts \
      --data-dir "$DATA" --out "$OUT/smoke.json" > "$OUT/smoke.log" 2>&1; then
    FAST=$opts
    break
  fi
  tail -n 20 "$OUT/smoke.log"
done
if [ -z "$FAST" ]; then
  log "every smoke run failed; stopping"; kill $SMI 2>/dev/null; exit 1
fi
log "options for the full run: $FAST"
echo "$FAST" > "$OUT/options.txt"

# ---------------------------------------------------------------- 2-4. the reproduction
CACHE=${CACHE:-/tmp/cifar_cache}
COMMON=(--device "$DEVICE" $FAST $EXTRA --data-dir "$DATA" --cache-dir "$CACHE"
        --seed "$SEED" --imbalance-ratio 100 --method erm,drs,m2m)
run_phase() {  # name, seconds, extra args...
  local name=$1 secs=$2; shift 2
  (( secs < 10 )) && secs=10
  timeout "$secs" python3 examples/cifar_lt.py "${COMMON[@]}" "$@" 2>&1 | tee "$OUT/$name.log"
}
T_START=$(date +%s.%N)
log "phase g + trunk (parallel), $(left)s left"
run_phase g $(( $(left) - 130 )) --only g &
PA=$!
run_phase trunk $(( $(left) - 130 )) --only trunk &
PB=$!
wait $PA; wait $PB
log "phase drs + m2m (parallel), $(left)s left"
run_phase drs $(( $(left) - 20 )) --method drs &
PA=$!
run_phase m2m $(( $(left) - 20 )) --method m2m &
PB=$!
wait $PA; wait $PB
T_END=$(date +%s.%N)
python3 -c "import json, sys; print(json.dumps({'g_plus_f_processes_wall_s': \
float(sys.argv[2]) - float(sys.argv[1]), 'options': sys.argv[3]}))" \
  "$T_START" "$T_END" "$FAST" | tee "$OUT/wall.json"
log "report"
python3 examples/cifar_lt.py "${COMMON[@]}" --only report --out "$OUT/cifar_lt_r100.json" \
  2>&1 | tee "$OUT/report.log"
kill $SMI 2>/dev/null
mkdir -p "$OUT/cache" && cp -r "$CACHE"/. "$OUT/cache/" 2>/dev/null
log "done"
