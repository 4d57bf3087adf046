#!/usr/bin/env bash
# Command 2 of 2: install what is missing, fetch MNIST, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
python -m grader fetch-data --quiet
ruff check grader tests bench
python -m pytest "$@"
