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
