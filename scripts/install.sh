#!/usr/bin/env bash
# Install the course's Python environment into .venv (idempotent).
# torch/torchvision are pinned to the wheels this course is tested with; on a machine that
# already provides another supported torch (2.11+, e.g. the GPU runner), set
# GRADER_KEEP_TORCH=1 to use the system packages instead of a venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# The worker sandbox is bubblewrap (Debian package `bubblewrap`); autograde refuses to run
# without it. Install it where we can (root with apt-get), otherwise say what to do.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null \
      || echo "warning: apt-get could not install bubblewrap" >&2
  else
    echo "warning: bubblewrap (bwrap) is missing: ask an administrator to run" \
         "'sudo apt-get install bubblewrap' (Debian/Ubuntu) or 'sudo dnf install bubblewrap';" \
         "until then 'python -m grader autograde' refuses to run (see README, 'The sandbox')" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ "${GRADER_KEEP_TORCH:-0}" != "1" ]; then
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  PY=.venv/bin/python
fi

"$PY" -m pip install -q --upgrade pip
if ! "$PY" -c "import torch, torchvision, sys; sys.exit(0 if torch.__version__.startswith('2.14.1') and torchvision.__version__.startswith('0.29.1') else 1)" 2>/dev/null \
   && [ "${GRADER_KEEP_TORCH:-0}" != "1" ]; then
  # GRADER_TORCH_INDEX (e.g. https://download.pytorch.org/whl/cpu) picks the build: the CPU
  # one is about 1 GB instead of the 5.5 GB CUDA build that PyPI serves.
  "$PY" -m pip install -q ${GRADER_TORCH_INDEX:+--index-url "$GRADER_TORCH_INDEX"} \
    "torch==2.14.1" "torchvision==0.29.1"
fi
# ray: the optional Ray backend (autograde --backend ray), installed here so that its tests
# run (and, under CI=true, must pass) wherever the suite runs.
"$PY" -m pip install -q -e ".[dev,ray]"
"$PY" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
echo "installed: $("$PY" -c 'import torch, nbgrader; print("torch", torch.__version__, "| nbgrader", nbgrader.__version__)') | $(bwrap --version 2>/dev/null || echo 'no bubblewrap')"
