#!/usr/bin/env bash
# CIFAR-LT-10 on one GPU: by default ratio 100, ERM g + ERM f to epoch 160, then DRS and
# M2m from that same state to epoch 200, with one seed. See docs/reproduction.md.
#
# Run from the repository root on the device machine, with .whl/ (skorch, imbalanced-learn,
# sklearn-compat, tabulate wheels) and .data/ (archives of benchmarks/gpu/pack_data.py,
# e.g. cifar10_r100.tar.xz) carried:
#     bash benchmarks/gpu/run_cifar_lt.sh
# Writes under $OUT (default ./gpu_out): cifar_lt_r<RATIO>.json (the report; with several
# SEEDS one cifar_lt_r<RATIO>_seed<S>.json each), wall.json, smoke.json, options.txt,
# environment.txt, gpu_tests.txt and logs.tar.gz (one log per phase, checks.txt,
# gpu_util.csv and the cache: g and the epoch-160 trunks, a few MB each, reusable with
# --cache-dir). The device tool returns at most 8 files.
# Settings (environment variables): SEED=0, or SEEDS="2 3" (chains side by side),
# RATIO=100 (or 10), METHODS=erm,drs,m2m (any of python -m benchmarks.cifar_lt
# --method), SELECT=1 (--select-epoch), OPTIONS="--fast" (skip the checks),
# CHECKS_ONLY=1 (stop after the checks), UNIT_TESTS=after | background | none,
# DEADLINE_S=570, DEVICE=cuda, EXTRA (more arguments of the reproduction),
# CACHE_IN=.gpu_cache (carried caches of earlier runs: a seed whose g and trunks are there
# goes straight to the branches; see docs/reproduction.md).
#
# Schedule (everything is printed with a time stamp):
#   0. install the carried wheels, unpack the data                          (~10 s)
#   1. checks, side by side: CUDA-graph training == eager training (pytest) and the
#      reproduction's --smoke run on the GPU with the fast options; if a check fails, the
#      next, plainer option set is tried (--fast -> bf16+channels_last -> plain) (~30 s)
#   2. per seed, g (200 epochs) in one process and, beside it, one chain per trunk the
#      METHODS continue (benchmarks.cifar_lt.methods.phase_chains): the trunk
#      (160 epochs), its branches without generation (epochs 160-200), then, once g is
#      done, its branches with generation; methods without a trunk form a chain of their
#      own. For ERM, DRS and M2m: g beside trunk -> DRS -> M2m, so that DRS runs while g
#      finishes and M2m has the GPU to itself
#   3. per seed, the report, assembled from the cache (also when a phase failed or
#      timed out)
#   4. if time is left: the CUDA-relevant unit tests on the GPU (device='auto' -> cuda)
# The whole script keeps to DEADLINE_S seconds (default 570) so that a 600 s device
# command always returns the report.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-$PWD/gpu_out}
DEADLINE_S=${DEADLINE_S:-570}
SEED=${SEED:-0}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu EXTRA="--smoke --threads 1" rehearses the script on a CPU
EXTRA=${EXTRA:-}
OPTIONS=${OPTIONS:-}        # set (e.g. "--fast"): skip the checks and use these options
UNIT_TESTS=${UNIT_TESTS:-after}  # after | background (from the start, beside it all) | none
SELECT=${SELECT:-0}         # 1: also report the validation-selected epoch (--select-epoch)
RATIO=${RATIO:-100}         # imbalance ratio: 100 or 10
METHODS=${METHODS:-erm,drs,m2m}
CHECKS_ONLY=${CHECKS_ONLY:-0}  # 1: set up, run the checks, write options.txt and stop
CACHE_IN=${CACHE_IN:-.gpu_cache}  # carried caches of earlier runs, one folder per run
mkdir -p "$OUT"
CACHE=${CACHE:-/tmp/cifar_cache}
SMI=""
# At most 8 files come back from the device machine: on exit, everything but the
# results goes into logs.tar.gz (the cache too: g's weights and every phase record).
pack() {
  [ -n "$SMI" ] && kill "$SMI" 2>/dev/null
  cd "$OUT" || return
  [ -d "$CACHE" ] && cp -r "$CACHE" cache
  local keep=(wall.json smoke.json options.txt environment.txt gpu_tests.txt)
  for f in cifar_lt_r*.json; do [ -e "$f" ] && keep+=("$f"); done
  local ex=(); for k in "${keep[@]}"; do ex+=(--exclude="./$k"); done
  tar czf /tmp/logs.tar.gz "${ex[@]}" . && mv /tmp/logs.tar.gz logs.tar.gz
  if (( $(stat -c %s logs.tar.gz) > 15000000 )); then  # a returned file is at most 16 MiB
    tar czf /tmp/logs.tar.gz "${ex[@]}" --exclude="*.pt" . && mv /tmp/logs.tar.gz logs.tar.gz
  fi
  for f in * .[!.]*; do
    [ -e "$f" ] || continue
    case " ${keep[*]} logs.tar.gz " in *" $f "*) ;; *) rm -rf "$f" ;; esac
  done
  ls -la "$OUT"
}
trap pack EXIT
T0=$(date +%s)
DEADLINE=$((T0 + DEADLINE_S))
log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( DEADLINE - $(date +%s) )); }

# ---------------------------------------------------------------- 0. environment
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl || exit 1
else
  echo "no .whl/ carried: using the installed packages (and /tmp/site of an earlier call)"
fi
export PYTHONPATH=/tmp/site:$PWD
DATA=/tmp/cifar_data
# Every carried archive (benchmarks/gpu/pack_data.py) or npz file, added to what an earlier
# call on this machine left in $DATA (a ratio-10 training archive is carried alone, after
# a call that carried the test set).
python3 - "$DATA" "$RATIO" <<'EOF' || exit 1
import sys, tarfile
from pathlib import Path
dest = Path(sys.argv[1]); dest.mkdir(parents=True, exist_ok=True)
for packed in sorted(Path(".data").glob("*.tar.xz")):
    with tarfile.open(packed) as tar:
        members = [m for m in tar.getmembers() if not (dest / m.name).exists()]
        try:
            tar.extractall(dest, members=members, filter="data")
        except TypeError:  # Python without extraction filters
            tar.extractall(dest, members=members)
for npz in sorted(Path(".data").glob("*.npz")):  # the shared npz files copied as they are
    if not (dest / npz.name).exists():
        (dest / npz.name).symlink_to(npz.resolve())
have = sorted(p.name for p in dest.iterdir())
print("data:", have)
need = {f"cifar10_lt_train_r{sys.argv[2]}.npz", "cifar10_test.npz"}
if not need <= set(have):
    sys.exit(f"missing {sorted(need - set(have))}: carry their archive (pack_data.py)")
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

UNIT_TEST_FILES=(tests/test_translation.py tests/test_over_sampler.py tests/test_classifier.py
                 tests/test_device_data.py tests/test_augment.py)
# the checks below run test_cuda_graphs.py already, unless OPTIONS skips them
[ -n "$OPTIONS" ] && UNIT_TEST_FILES+=(tests/test_cuda_graphs.py)
unit_tests() {  # seconds
  timeout "$1" python3 -m pytest -q -p no:cacheprovider "${UNIT_TEST_FILES[@]}" \
    > "$OUT/gpu_tests.txt" 2>&1
  log "unit tests exited with $?"; tail -n 12 "$OUT/gpu_tests.txt"
}
PU=""
if [ "$UNIT_TESTS" = background ]; then
  log "unit tests on the GPU, in the background"
  unit_tests $(( $(left) - 30 )) &
  PU=$!
fi

# ---------------------------------------------------------------- 1. checks
OPTION_SETS=("--fast" "--amp bf16 --channels-last --translate-ahead 8" "--translate-ahead 8")
smoke() {  # options, log file
  timeout 120 python3 -m benchmarks.cifar_lt --smoke --device "$DEVICE" $1 \
    --data-dir "$DATA" --out "$OUT/smoke.json" > "$2" 2>&1
}
if [ -n "$OPTIONS" ]; then
  FAST=$OPTIONS
  log "checks skipped (OPTIONS given)"
else
log "checks: pytest (CUDA graphs) beside the smoke run with ${OPTION_SETS[0]}"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_graphs.py \
  > "$OUT/checks.txt" 2>&1 &
PT=$!
smoke "${OPTION_SETS[0]}" "$OUT/smoke.log"
SMOKE0=$?
wait $PT
PYTEST_RC=$?
tail -n 3 "$OUT/checks.txt"
FAST=""
if (( PYTEST_RC == 0 && SMOKE0 == 0 )); then
  FAST=${OPTION_SETS[0]}
else
  log "pytest rc $PYTEST_RC, smoke rc $SMOKE0: not using CUDA graphs"
  tail -n 30 "$OUT/smoke.log"
  for ((i = 1; i < ${#OPTION_SETS[@]}; i++)); do
    opts=${OPTION_SETS[$i]}
    log "smoke run with: $opts"
    if smoke "$opts" "$OUT/smoke$i.log"; then
      FAST=$opts
      break
    fi
    tail -n 30 "$OUT/smoke$i.log"
  done
fi
if [ -z "$FAST" ]; then
  log "every smoke run failed; stopping"; exit 1
fi
grep -h "^\[m2m\]\|^method\|^erm\|^drs\|^m2m\|wall:" "$OUT/smoke.log" | tail -n 8
fi
log "options for the full run: $FAST"
echo "$FAST" > "$OUT/options.txt"
if [ "$CHECKS_ONLY" = 1 ]; then
  log "CHECKS_ONLY: done"; exit 0
fi

# ---------------------------------------------------------------- 2-3. the reproduction
mkdir -p "$CACHE"
# Caches of earlier runs carried in (CACHE_IN/<name>/ holding g-*.pt and trunk-ce-*/ as
# they come back in logs.tar.gz): their seeds skip g and the trunk.
for d in "$CACHE_IN"/*/; do
  [ -d "$d" ] || continue
  cp -r "$d". "$CACHE"/ && log "cache carried in: $d ($(ls "$d" | tr '\n' ' '))"
done
SELECT_ARG=""
[ "$SELECT" = 1 ] && SELECT_ARG="--select-epoch"
common() {  # seed -> the reproduction's arguments shared by every phase of that seed
  echo --device "$DEVICE" $FAST ${THREADS:---threads 4} $EXTRA $SELECT_ARG \
    --data-dir "$DATA" --cache-dir "$CACHE" --seed "$1" --imbalance-ratio "$RATIO" \
    --method "$METHODS"
}
run_phase() {  # seed, name, seconds, extra args...
  local seed=$1 name=$2 secs=$3; shift 3
  (( secs < 10 )) && secs=10
  local logf="$OUT/$name.log"
  [ "$MULTI" = 1 ] && logf="$OUT/seed$seed-$name.log"
  timeout "$secs" python3 -m benchmarks.cifar_lt $(common "$seed") "$@" > "$logf" 2>&1
  local rc=$?
  log "seed $seed: $name exited with $rc"
  grep -v "^\[" "$logf" | grep -v "Warning\|warn\|return Variable" | tail -n 6
  return $rc
}
# "g 0|1" (whether g is needed), then one line per chain: its trunk ("-": trained from
# scratch), its methods without g and with g (comma-separated, "-" for none), as
# benchmarks.cifar_lt.methods.phase_chains groups them.
PLAN=$(python3 -c "import sys
from benchmarks.cifar_lt.methods import METHODS, phase_chains
ms = list(METHODS) if sys.argv[1] == 'all' else sys.argv[1].split(',')
print('g', int(any(m == 'erm' or METHODS[m].generation for m in ms)))
for trunk, plain, with_g in phase_chains(ms):
    print(trunk or '-', ','.join(plain) or '-', ','.join(with_g) or '-')" "$METHODS") || exit 1
NEEDS_G=$(echo "$PLAN" | awk '$1 == "g" {print $2}')
CHAINS=$(echo "$PLAN" | awk '$1 != "g"')
run_chain() {  # seed, trunk, methods without g, methods with g
  local seed=$1 trunk=$2 plain=$3 with_g=$4 name methods=()
  if [ "$trunk" != - ]; then
    name=trunk-$trunk
    [ "$trunk" = ce ] && name=trunk  # the log name of earlier runs
    [ "$plain" != - ] && methods+=("$plain")
    [ "$with_g" != - ] && methods+=("$with_g")
    run_phase "$seed" "$name" $(( $(left) - 40 )) --only trunk \
      --method "$(IFS=,; echo "${methods[*]}")"
  fi
  if [ "$plain" != - ]; then
    run_phase "$seed" "${plain//,/+}" $(( $(left) - 15 )) --only methods --method "$plain"
  fi
  if [ "$with_g" != - ]; then
    while [ ! -e "$CACHE/.g_finished_$seed" ]; do sleep 1; done
    log "seed $seed: ${with_g//,/ and }, $(left)s left"
    run_phase "$seed" "${with_g//,/+}" $(( $(left) - 15 )) --only methods --method "$with_g"
  fi
}
run_seed() {  # seed: g beside one chain per trunk; then the seed's report
  local seed=$1 t0 t1 pids=() trunk plain with_g
  t0=$(date +%s.%N)
  rm -f "$CACHE/.g_finished_$seed"
  while read -r trunk plain with_g; do
    [ -n "$trunk" ] || continue
    run_chain "$seed" "$trunk" "$plain" "$with_g" &
    pids+=($!)
  done <<< "$CHAINS"
  if (( NEEDS_G )); then
    run_phase "$seed" g $(( $(left) - 40 )) --only g
  fi
  touch "$CACHE/.g_finished_$seed"
  for pid in "${pids[@]}"; do wait "$pid"; done
  t1=$(date +%s.%N)
  python3 -c "import json, sys; print(json.dumps({'seed': int(sys.argv[1]), \
'g_plus_f_processes_wall_s': float(sys.argv[3]) - float(sys.argv[2]), \
'options': sys.argv[4], 'seeds_in_parallel': int(sys.argv[5])}))" \
    "$seed" "$t0" "$t1" "$FAST $SELECT_ARG" "$N_SEEDS" > "$OUT/wall_seed$seed.tmp"
  local name=cifar_lt_r$RATIO.json
  [ "$MULTI" = 1 ] && name=cifar_lt_r${RATIO}_seed$seed.json
  python3 -m benchmarks.cifar_lt $(common "$seed") --only report --out "$OUT/$name" \
    > "$OUT/report_seed$seed.log" 2>&1
  log "seed $seed: report"
  grep -v "^\[" "$OUT/report_seed$seed.log"
}
# SEEDS="2 3": one chain per seed, all side by side (each seed trains its own g).
SEEDS=${SEEDS:-$SEED}
read -r -a SEED_LIST <<< "$SEEDS"
N_SEEDS=${#SEED_LIST[@]}
MULTI=0; (( N_SEEDS > 1 )) && MULTI=1
log "ratio $RATIO, methods $METHODS, seeds ${SEED_LIST[*]}; each seed: g beside" \
  "the chains (trunk, without g, with g): $(echo "$CHAINS" | tr '\n' ';') $(left)s left"
PIDS=()
for seed in "${SEED_LIST[@]}"; do
  run_seed "$seed" &
  PIDS+=($!)
done
for pid in "${PIDS[@]}"; do wait "$pid"; done
python3 - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = [json.loads(p.read_text()) for p in sorted(out.glob("wall_seed*.tmp"))]
(out / "wall.json").write_text(json.dumps(rows[0] if len(rows) == 1 else rows, indent=1))
for p in out.glob("wall_seed*.tmp"):
    p.unlink()
print(json.dumps(rows))
PYEOF
kill $SMI 2>/dev/null; SMI=""

# ---------------------------------------------------------------- 4. unit tests on the GPU
if [ -n "$PU" ]; then
  wait "$PU"
elif [ "$UNIT_TESTS" = after ] && (( $(left) > 45 )); then
  log "unit tests on the GPU, $(left)s left"
  unit_tests $(( $(left) - 5 ))
fi
log "done"
