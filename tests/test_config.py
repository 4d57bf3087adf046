"""nbgrader_config.py: one place, overridable by environment, warnings never cost points."""

from __future__ import annotations

import re
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


def test_every_environment_variable_is_in_the_readme_table():
    from conftest import ROOT

    from grader.config import ENVIRONMENT

    readme = (ROOT / "README.md").read_text()
    rows = {line for line in readme.splitlines() if line.startswith("| `")}
    for var in ENVIRONMENT:
        assert f"| `{var.name}` | {var.read_by} | {var.meaning} |" in rows, var.name
    named = {m.group(1) for line in readme.splitlines()
             if line.startswith("| `") and (m := re.match(r"\| `([A-Z_]+)` \|", line))}
    assert named <= {v.name for v in ENVIRONMENT}, "a README row names a variable nobody reads"


def test_only_settings_read_the_graders_environment_variables():
    # GRADER_* variables are read in config.Settings.from_env and nowhere else in the
    # package (never at import time), so a run's settings have one home.
    from conftest import ROOT

    from grader.config import ENVIRONMENT

    ours = [v.name for v in ENVIRONMENT if v.name.startswith("GRADER_") and "install.sh" not in v.read_by]
    for path in (ROOT / "grader").rglob("*.py"):
        if path.name == "config.py" and path.parent.name == "grader":
            continue
        text = path.read_text()
        for name in ours:
            assert not re.search(rf"environ[^\n]*{name}|getenv\([^\n]*{name}", text), (
                f"{path.relative_to(ROOT)} reads {name}: use config.Settings")


def test_settings_resolve_from_the_environment_at_call_time(tmp_path):
    from grader.config import DEFAULT_HIDDEN_SEED, PUBLIC_EVAL_SEED, Settings
    from grader.course import Course

    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    found = Settings.from_env(environ={}, cwd=course)
    assert found.course == Course(course.resolve()) and found.hidden_seed == DEFAULT_HIDDEN_SEED
    assert found.eval_seed() == (PUBLIC_EVAL_SEED, False)
    (course / "secrets").mkdir()
    (course / "secrets" / "eval_seed").write_text("99\n")
    assert found.eval_seed() == (99, True)
    chosen = Settings.from_env(environ={"GRADER_COURSE_ROOT": str(tmp_path),
                                        "GRADER_EVAL_SEED": "5"}, cwd=course)
    assert chosen.course.root == tmp_path.resolve() and chosen.eval_seed() == (5, True)
    assert str(tmp_path.resolve()) in chosen.private_paths()


def test_the_grader_command_starts_without_jsonschemas_iri_grammar():
    """``python -m grader`` keeps jsonschema from importing rfc3987_syntax (1.5 s of every
    command's start, for format checks nothing of the grader uses); nbformat still
    validates notebooks in that process."""
    import subprocess
    import sys

    code = ("import runpy, sys\n"
            "sys.argv = ['grader', '--help']\n"
            "try:\n"
            "    runpy.run_module('grader', run_name='__main__')\n"
            "except SystemExit:\n"
            "    pass\n"
            "import nbformat\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
            "nbformat.validate(nb)\n"
            "print(sys.modules.get('rfc3987_syntax', 'absent'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "None", out.stdout[-500:]
