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
