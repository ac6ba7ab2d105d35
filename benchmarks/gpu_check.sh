#!/usr/bin/env bash
# GPU device check: training, inference and the full-object refinement on CUDA, in one
# precision of mixed type (bf16-mixed where the GPU supports it, else 16-mixed), the quality
# benchmark's per-stage table, and the GPU's memory from nvidia-smi. About 3-5 minutes on one
# GPU; every figure lands in $OUT (default ./gpu-check) as text and JSON.
#
#   bash benchmarks/gpu_check.sh [DATA_ROOT]
#
# DATA_ROOT: a folder holding the shared ptychodus sets images_a and images_b (default
# ../shared/data/ptychodus). Without them the check simulates its own two sets with
# `ptycho-engine simulate` (numbers then not comparable with docs/performance.md's tables).
# Exit status: 0 when every step ran, else the first failing step's.
# ACCELERATOR=cpu PRECISION=32-true runs the same steps on a CPU (a dry run of the script);
# CHECK_SET="--set training.max_epochs=1" passes settings to train, infer and bench;
# BEAMTIME_SET (default "--set training.max_time_min=3") to the beamtime training;
# STEPS="beamtime" (a comma-separated subset of tests,train,infer,quality,beamtime,bench)
# runs only those steps.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check}"
DATA="${1:-../shared/data/ptychodus}"
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE
PY="${PYTHON:-python}"
ENGINE=(ptycho-engine)

step() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)" | tee -a "$OUT/log.txt"; }
STEPS=",${STEPS:-tests,train,infer,quality,beamtime,bench},"
want() { [[ "$STEPS" == *",$1,"* ]]; }

ACCELERATOR="${ACCELERATOR:-gpu}"
read -r -a CHECK_SET <<< "${CHECK_SET:-}"
read -r -a BEAMTIME_SET <<< "${BEAMTIME_SET:---set training.max_time_min=3}"
smi() { if command -v nvidia-smi >/dev/null; then nvidia-smi "$@"; else echo "(no nvidia-smi)"; fi; }

step "device"
smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"
"$PY" - <<'EOF' | tee "$OUT/torch.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported())
EOF
PRECISION="${PRECISION:-$("$PY" -c "import torch; print('bf16-mixed' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else '16-mixed')")}"
echo "precision $PRECISION" | tee -a "$OUT/log.txt"

if [[ ! -f "$DATA/images_a/product.h5" || ! -f "$DATA/images_b/product.h5" ]]; then
    step "no shared sets under $DATA: simulating two"
    DATA="$OUT/sets"
    "${ENGINE[@]}" simulate --out "$DATA/images_a" --seed 1 --overwrite --no-progress-bar
    "${ENGINE[@]}" simulate --out "$DATA/images_b" --seed 2 --overwrite --no-progress-bar
fi
train_data="$DATA/images_a/product.h5"
[[ -f "$train_data" ]] || train_data="$DATA/images_a"

if want tests; then
step "pytest GPU tests (CUDA training in 32/16-mixed/bf16-mixed, GPU checkpoint on the CPU)"
QT_QPA_PLATFORM=offscreen "$PY" -m pytest -q -m gpu tests/test_gpu.py 2>&1 | tail -5 | tee "$OUT/pytest.txt"
fi

if want train; then
step "train on images_a: $ACCELERATOR, $PRECISION, default settings (network + refinement)"
rm -rf "$OUT/run"
/usr/bin/time -f "train wall %e s, peak RSS %M KiB" \
    "${ENGINE[@]}" train --data "$train_data" --out "$OUT/run" --accelerator "$ACCELERATOR" \
    --precision "$PRECISION" --no-progress-bar "${CHECK_SET[@]}" 2>&1 | tail -25 | tee "$OUT/train.txt"
fi

if want infer; then
step "infer on images_b: $ACCELERATOR (network + refinement)"
/usr/bin/time -f "infer wall %e s, peak RSS %M KiB" \
    "${ENGINE[@]}" infer --checkpoint "$OUT/run/checkpoints/last.ckpt" --data "$DATA/images_b" \
    --out "$OUT/infer_b.h5" --accelerator "$ACCELERATOR" --no-progress-bar "${CHECK_SET[@]}" 2>&1 | tail -25 \
    | tee "$OUT/infer.txt"
fi

if want quality; then
step "quality benchmark per stage (prior, network, refinement, final) on $ACCELERATOR"
"${ENGINE[@]}" bench --quality --data "$DATA" --checkpoint "$OUT/run/checkpoints/last.ckpt" \
    --accelerator "$ACCELERATOR" --json "${CHECK_SET[@]}" > "$OUT/quality.json" 2> "$OUT/quality.stderr" || {
        tail -20 "$OUT/quality.stderr"; exit 1; }
"$PY" - "$OUT/quality.json" <<'EOF' | tee "$OUT/quality.txt"
import json, sys
rows = json.load(open(sys.argv[1]))["stages"]
print(f"{'set':10} {'stage':11} {'amp SSIM':>8} {'phase SSIM':>10} {'time s':>7} {'patt/s':>8}")
for r in rows:
    print(f"{r['set']:10} {r['stage']:11} {r['amplitude']['ssim']:8.3f} {r['phase']['ssim']:10.3f}"
          f" {r['seconds']:7.2f} {r['patterns_per_s']:8.0f}")
EOF
fi

if want beamtime; then
step "beamtime model on images_a ($ACCELERATOR, $PRECISION, GPU preset), network-only on images_b"
rm -rf "$OUT/beamtime"
/usr/bin/time -f "beamtime train wall %e s, peak RSS %M KiB" \
    "${ENGINE[@]}" train --beamtime --data "$train_data" --out "$OUT/beamtime" \
    --accelerator "$ACCELERATOR" --precision "$PRECISION" --no-progress-bar \
    "${BEAMTIME_SET[@]}" 2>&1 | tail -25 | tee "$OUT/beamtime_train.txt"
"${ENGINE[@]}" infer --network-only --checkpoint "$OUT/beamtime/checkpoints/last.ckpt" \
    --data "$DATA/images_b" --out "$OUT/beamtime_net_b.h5" --accelerator "$ACCELERATOR" \
    --no-progress-bar 2>&1 | tail -25 | tee "$OUT/beamtime_infer.txt"
SCORER="${SCORER:-$DATA/../../tools/score_product.py}"
if [[ -f "$SCORER" && -f "$DATA/images_b/truth.h5" ]]; then
    "${SCORER_PYTHON:-$PY}" "$SCORER" "$OUT/beamtime_net_b.h5" "$DATA/images_b/truth.h5" \
        2>&1 | tail -3 | tee "$OUT/beamtime_score.json" || true
fi
fi

if want bench; then
step "throughput benchmark on $ACCELERATOR ($PRECISION, larger batches)"
"${ENGINE[@]}" bench --quick --json --accelerator "$ACCELERATOR" --precision "$PRECISION" \
    --set training.batch_size=64 --inference-batch-size 2048 > "$OUT/bench.json" \
    2> "$OUT/bench.stderr" || { tail -20 "$OUT/bench.stderr"; exit 1; }
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({k: d[k] for k in d if k != 'settings'}, indent=1)[:3000])" "$OUT/bench.json"
fi

step "GPU memory now (nvidia-smi)"
smi --query-gpu=memory.used,memory.total,utilization.gpu --format=csv | tee "$OUT/memory.csv"
echo "done: figures in $OUT"
