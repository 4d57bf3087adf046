#!/usr/bin/env bash
# Run ON the GPU runner, in one go, every GPU check of the course (issue 5):
#   bash scripts/gpu_check.sh
# Carry .whl and .gpu (made here by scripts/gpu_prepare.sh). Prints JSON lines: ps5 scores
# on CUDA for the reference, lecture CNN, MLP and blank submissions, wall time per
# submission and where it went, GPU memory per worker, throughput for 1, 4 and 8 workers on
# one GPU, a class-sized batch of 64 submissions of all five sets (throughput per hour and
# the ratio to serial grading, issue 13), the threshold calibration, then the GPU tests.
# Logs go to $OUT (the device tool sets it; default /tmp/gpu-check), written as they
# happen so a stopped run keeps them.
# Knobs: PYTHON, GPU_CHECK_WHEELS (.whl), GPU_CHECK_ARGS (extra bench/gpu_check.py args).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
PY=${PYTHON:-python3}
WHEELS=${GPU_CHECK_WHEELS:-.whl}
SITE=$(mktemp -d /tmp/gpu-site-XXXX)
DATA=$(mktemp -d /tmp/gpu-data-XXXX)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

run() {
  set -e
  started=$(date +%s)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl
  export PYTHONPATH=$SITE:$PWD
  tar -xzf .gpu/mnist.tgz -C "$DATA"
  export GRADER_DATA_ROOT=$DATA
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  # The worker sandbox: the runner's own bubblewrap, else the one gpu_prepare.sh carried.
  # Copied out of the checkout: the account workers drop to must be able to run it.
  if ! command -v bwrap >/dev/null 2>&1 && [ -x .gpu/bwrap/bwrap ]; then
    BWRAP_DIR=$(mktemp -d /tmp/gpu-bwrap-XXXX)
    cp -r .gpu/bwrap/. "$BWRAP_DIR"/ && chmod -R a+rX "$BWRAP_DIR" && chmod 755 "$BWRAP_DIR"
    export PATH=$BWRAP_DIR:$PATH
  fi
  bwrap --version || echo "no bubblewrap: the GPU check grades unsandboxed and says so"
  "$PY" -m grader fetch-data --quiet           # verifies the MD5s of what was carried
  echo "setup took $(( $(date +%s) - started )) s"
  # shellcheck disable=SC2086  # GPU_CHECK_ARGS is a list of arguments
  "$PY" bench/gpu_check.py --out "$OUT/gpu_check.jsonl" ${GPU_CHECK_ARGS:-}
  set +e
  "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py tests/autograde/test_gpu_slots.py
  status=$?
  echo "gpu_check.sh finished in $(( $(date +%s) - started )) s (pytest exit $status)"
  return $status
}

run 2>&1 | tee "$OUT/gpu_check.log"
