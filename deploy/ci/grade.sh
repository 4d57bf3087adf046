#!/usr/bin/env bash
# Grade a student's notebook with the course's one-notebook CLI (`python -m grader grade`).
#
# The one place the CI templates' grading command lives: the GitHub Actions workflow, the
# GitLab job and the GitHub Classroom files each call this script in one line, and
# tests/test_ci_templates.py runs those lines as they stand. It runs on the runner, from
# the course repository checked out there (the grader is private: never installed from the
# student's repository), with the student's repository as the working directory.
#
# Environment (all optional):
#   NOTEBOOK      the notebook to grade, relative to the working directory; default: the one
#                 *.ipynb at the top of the working directory (none or several: exit 2)
#   ASSIGNMENT    the problem set (ps1 or ps1_tensors); default: read off the notebook
#   PASS_PERCENT  exit 1 when the score is under this percentage (default 60)
#   OUT_DIR       where results.json and junit.xml go (default: the working directory)
#   SUMMARY       append a Markdown summary to this file; default $GITHUB_STEP_SUMMARY
#   DEVICE        auto (default), cpu or cuda
#   GRADER_HOME   the course checkout; default: two folders above this script
#   GRADER_PYTHON the interpreter; default $GRADER_HOME/.venv/bin/python, else python3
#
# Exit codes are the grader's: 0 graded, 1 score under PASS_PERCENT, 2 bad input.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GRADER_HOME="${GRADER_HOME:-$(cd "$here/../.." && pwd)}"
if [ -z "${GRADER_PYTHON:-}" ]; then
    if [ -x "$GRADER_HOME/.venv/bin/python" ]; then
        GRADER_PYTHON="$GRADER_HOME/.venv/bin/python"
    else
        GRADER_PYTHON=python3
    fi
fi
PASS_PERCENT="${PASS_PERCENT:-60}"
OUT_DIR="${OUT_DIR:-.}"
SUMMARY="${SUMMARY:-${GITHUB_STEP_SUMMARY:-}}"
DEVICE="${DEVICE:-auto}"

say_summary() {
    if [ -n "$SUMMARY" ]; then printf '%s\n' "$1" >>"$SUMMARY"; fi
}

if [ -z "${NOTEBOOK:-}" ]; then
    shopt -s nullglob
    found=(./*.ipynb)
    shopt -u nullglob
    if [ "${#found[@]}" -ne 1 ]; then
        msg="grade.sh: expected one notebook (*.ipynb) at the top of $(pwd), found ${#found[@]}; set NOTEBOOK"
        echo "$msg" >&2
        say_summary "**not graded**: $msg"
        exit 2
    fi
    NOTEBOOK="${found[0]#./}"
fi

mkdir -p "$OUT_DIR"
args=(grade "$NOTEBOOK"
      --json "$OUT_DIR/results.json" --junit "$OUT_DIR/junit.xml"
      --fail-under "$PASS_PERCENT" --device "$DEVICE")
if [ -n "${ASSIGNMENT:-}" ]; then args+=(--assignment "$ASSIGNMENT"); fi
if [ -n "$SUMMARY" ]; then args+=(--summary "$SUMMARY"); fi

# -P: the working directory is the student's repository; a grader/ folder there must not
# shadow the course's package.
echo "grade.sh: $GRADER_PYTHON -P -m grader ${args[*]}"
"$GRADER_PYTHON" -P -m grader "${args[@]}"
rc=$?
case "$rc" in
    0) ;;
    1) echo "grade.sh: the score is under $PASS_PERCENT% (exit 1)" >&2 ;;
    *) echo "grade.sh: $NOTEBOOK was not graded (exit $rc)" >&2
       say_summary "**not graded**: \`$NOTEBOOK\` (grader exit $rc; see the job log)" ;;
esac
exit "$rc"
