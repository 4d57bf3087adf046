"""The one-notebook CLI: exit codes, Gradescope JSON, JUnit XML."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT

PS = "ps1_tensors"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_grade_writes_gradescope_json_and_junit(tmp_path):
    out = run("grade", f"release/{PS}/{PS}.ipynb", "--assignment", PS,
              "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"))
    assert out.returncode == 0, out.stderr  # graded, whatever the score
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["score"] == 0 and data["max_score"] > 0
    assert {"score", "max_score", "execution_time", "tests"} <= set(data)
    for t in data["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(t)
        assert t["extra_data"]["grade_id"]
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert int(suite.get("tests")) == len(data["tests"])
    assert int(suite.get("failures")) == len(data["tests"])


@pytest.mark.slow
def test_fail_under_turns_a_low_score_into_exit_1():
    out = run("grade", f"release/{PS}/{PS}.ipynb", "--assignment", PS, "--fail-under", "50",
              "--quiet")
    assert out.returncode == 1
    assert "under --fail-under" in out.stderr


def test_grader_errors_are_non_zero():
    assert run("grade", "no/such.ipynb", "--assignment", PS).returncode == 2
    assert run("grade", f"release/{PS}/{PS}.ipynb", "--assignment", "ps9").returncode == 2


# The GPU runner has torch but neither nbgrader nor its server stack: grading one notebook
# and the GPU benchmarks must not need them (nbgrader belongs to the instructor's machine).
_WITHOUT_NBGRADER = """
import runpy, sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"nbgrader", "jupyter_server", "sqlalchemy", "alembic"}:
            raise ImportError(f"{name} is not installed on the GPU runner")
sys.meta_path.insert(0, Absent())
target, sys.argv = sys.argv[1], sys.argv[1:]
if target.endswith(".py"):
    sys.path.insert(0, target.rsplit("/", 1)[0])
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def without_nbgrader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT_NBGRADER, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_grading_and_gpu_benchmarks_run_without_nbgrader(tmp_path):
    out = without_nbgrader("grader", "grade", f"release/{PS}/{PS}.ipynb", "--assignment", PS,
                           "--json", str(tmp_path / "r.json"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["max_score"] > 0
    for script in ("bench/gpu_check.py", "bench/calibrate_threshold.py"):
        out = without_nbgrader(script, "--help")
        assert out.returncode == 0 and "usage" in out.stdout, (script, out.stderr[-2000:])
    # and the blocker itself works: the instructor's verbs do need nbgrader
    assert without_nbgrader("grader", "release", PS).returncode != 0


VERBS = ("grade", "autograde", "report", "fetch-data", "release", "normalize", "demo")


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_an_instructor_can_act_on(verb):
    out = run(verb, "--help")
    assert out.returncode == 0
    assert "exit codes:" in out.stdout and "example" in out.stdout
    options = [ln.strip() for ln in out.stdout.splitlines() if ln.strip().startswith("--")]
    undocumented = [o for o in options if len(o.split(None, 1)) < 2 and "--help" not in o]
    # argparse puts a long help on the next line; an option with no help has neither
    for o in undocumented:
        line = next(i for i, ln in enumerate(out.stdout.splitlines()) if ln.strip() == o)
        assert out.stdout.splitlines()[line + 1].startswith(" " * 10), f"{verb} {o} has no help"


def test_top_level_help_lists_the_sets_and_no_internal_note():
    out = run("--help")
    assert "ps1 = ps1_tensors" in out.stdout and "thin parser" not in out.stdout


@pytest.mark.slow
def test_grade_reads_the_set_off_the_notebook_and_accepts_short_names(tmp_path):
    auto = run("grade", f"release/{PS}/{PS}.ipynb", "--json", str(tmp_path / "a.json"), "--quiet")
    short = run("grade", f"release/{PS}/{PS}.ipynb", "--assignment", "ps1",
                "--json", str(tmp_path / "b.json"), "--quiet")
    assert auto.returncode == short.returncode == 0, auto.stderr + short.stderr
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["extra_data"]["assignment"] == b["extra_data"]["assignment"] == PS


def test_a_notebook_of_another_set_is_named_not_scored_zero():
    out = run("grade", "release/ps2_gradients/ps2_gradients.ipynb", "--assignment", "ps1")
    assert out.returncode == 2
    assert "looks like ps2_gradients" in out.stderr and "--assignment ps2" in out.stderr


def test_an_unknown_set_lists_the_short_names():
    out = run("release", "ps9")
    assert out.returncode == 2 and "ps1 (ps1_tensors)" in out.stderr


@pytest.mark.slow
def test_summary_appends_markdown_for_a_ci_job(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out = run("grade", f"release/{PS}/{PS}.ipynb", "--summary", str(summary), "--quiet",
              "--fail-under", "50")
    assert out.returncode == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert f"### {PS}: 0 / " in text and "**failed** (required: 50%)" in text
    assert "| ❌ |" in text
