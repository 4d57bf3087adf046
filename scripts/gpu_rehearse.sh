#!/usr/bin/env bash
# Rehearse scripts/gpu_check.sh HERE, on the CPU, before spending device time on it.
# The environment is shaped like the GPU runner's: a fresh venv holding only packages the
# runner has (torch, torchvision, numpy, safetensors, pytest, tqdm, matplotlib and the
# small ones the execution stack leans on, such as attrs and pygments; no nbgrader, no
# Jupyter stack), the execution-stack wheels carried in for this Python, the data unpacked
# from .gpu/mnist.tgz, and small budgets so that it ends in minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${REHEARSAL_VENV:-/tmp/runner-venv}
PYVER=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ ! -x "$VENV/bin/python3" ]; then
  python3 -m venv "$VENV"
  # The runner's package list: /work/.library/device/KINDS.md ("Python packages already there").
  "$VENV/bin/python3" -m pip install -q torch==2.14.1 torchvision==0.29.1 numpy safetensors \
    pytest tqdm matplotlib attrs pygments packaging typing_extensions psutil pyyaml \
    python-dateutil six
fi
if "$VENV/bin/python3" -c "import nbgrader" 2>/dev/null || "$VENV/bin/python3" -c "import IPython" 2>/dev/null; then
  echo "the rehearsal venv $VENV must not hold nbgrader or IPython (the runner has neither)" >&2
  exit 2
fi
RUNNER_PYTHON=$PYVER WHEELS_DIR=.whl-rehearsal bash scripts/gpu_prepare.sh
PYTHON=$VENV/bin/python3 GPU_CHECK_WHEELS=.whl-rehearsal OUT=${OUT:-/tmp/gpu-rehearsal} \
  GPU_CHECK_ARGS="--device cpu --budget 4 --quick-budget 2 --concurrency 1 2 --batch-size 10 --batch-jobs 2 --calibration-seeds 1 --calibration-jobs 2" \
  bash scripts/gpu_check.sh
