#!/usr/bin/env bash
# Run ON the GPU runner, in one go (carry .whl and .gpu, see scripts/gpu_prepare.sh):
#   bash scripts/gpu_check.sh
# Prints JSON: ps5 scores on CUDA for the reference, lecture CNN, MLP and blank submissions,
# wall time per submission, GPU memory per worker, throughput for 1, 4 and 8 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD
mkdir -p /tmp/data && tar -xzf .gpu/mnist.tgz -C /tmp/data
export GRADER_DATA_ROOT=/tmp/data
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -m grader fetch-data --quiet   # verifies the MD5s of what was carried
python3 -m pytest -q -m gpu tests || true
python3 bench/gpu_check.py --device cuda --concurrency 1 4 8
