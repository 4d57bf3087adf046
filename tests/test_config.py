"""nbgrader_config.py: one place, overridable by environment, warnings never cost points."""

from __future__ import annotations

import subprocess
import sys

import nbformat
from conftest import ROOT

from grader.autograde.nbgrader_api import load_config


def test_exchange_root_and_course_id_come_from_the_environment():
    code = ("from grader.autograde.nbgrader_api import load_config; from pathlib import Path; "
            "c = load_config(Path('.')); print(c.Exchange.root, c.CourseDirectory.course_id)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "NBGRADER_EXCHANGE_ROOT": "/tmp/exch",
                              "COURSE_ID": "dl-2027"}, check=True)
    assert out.stdout.split() == ["/tmp/exch", "dl-2027"]


def test_pytorch_warnings_on_stderr_do_not_fail_a_test_cell():
    from nbgrader.preprocessors import IgnorePattern
    from nbgrader.utils import determine_grade

    config = load_config(ROOT)
    cell = nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 1, "grade_id": "t",
        "schema_version": 3}})
    cell.outputs = [nbformat.v4.new_output(
        "stream", name="stderr",
        text="/usr/lib/python3/site-packages/torch/nn/modules/module.py:1: UserWarning: "
             "Implicit dimension choice for softmax has been deprecated.\n")]
    assert determine_grade(cell)[0] == 0  # what plain nbgrader would do
    pre = IgnorePattern(config=config)
    assert pre.enabled
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = pre.preprocess(nb, {})
    assert determine_grade(nb.cells[0])[0] == 1


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/test.sh" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert any(line.strip().startswith("bash scripts/test.sh") for line in ci.splitlines())
    assert "python -m pytest" in (ROOT / "scripts" / "test.sh").read_text()
