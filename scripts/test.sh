#!/usr/bin/env bash
# Command 2 of 2: install what is missing, fetch MNIST, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
python -m grader fetch-data --quiet
ruff check grader tests bench
# Authoring mistakes (grade_ids, markers, points, locks, a stale or leaking release) in
# about 4 s, before the quarter hour of tests.
python -m grader lint
# Most of the suite waits on sandboxed workers, notebooks and timeouts rather than computing,
# so three pytest processes on two cores finish in about a third of the serial time (15 min
# against 50 in a measured run). --dist loadfile keeps each file's module fixtures (a graded
# batch, a course) in one process. TEST_WORKERS=0 runs serially.
python -m pytest -n "${TEST_WORKERS:-3}" --dist loadfile "$@"
