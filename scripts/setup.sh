#!/usr/bin/env bash
# Command 1 of 2: install everything, fetch MNIST, and run the main job
# (release the problem sets, grade sample submissions, print the grade table).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
python -m grader fetch-data
python -m grader demo "$@"
