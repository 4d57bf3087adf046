"""Issue 15 acceptance: ``python -m grader new`` makes a set that the whole pipeline takes.

A new set is created, its one solution filled in the notebook (no other file touched by
hand), released with nbgrader, linted, and graded through the one-notebook CLI: the
reference earns full marks and the blank release zero. The grader package is copied to a
scratch folder first, because ``new`` writes its hidden tests into the package it runs
from, and this test must not leave a set in the checkout (or race the tests that scan it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from grader.course import Course
from grader.scaffold import BadSetName, create

NAME = "ps6_doubling"


def run(args: list[str], course: Path, package: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(GRADER_COURSE_ROOT=str(course), PYTHONPATH=str(package))
    out = subprocess.run([sys.executable, "-m", "grader", *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, f"{args}: {out.stdout}\n{out.stderr}"
    return out


@pytest.mark.slow
def test_new_set_fill_release_lint_and_grade(tmp_path):
    package, course = tmp_path / "pkg", tmp_path / "course"
    shutil.copytree(ROOT / "grader", package / "grader",
                    ignore=shutil.ignore_patterns("__pycache__"))
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")

    out = run(["new", NAME], course, package)
    notebook = course / "source" / NAME / f"{NAME}.ipynb"
    assert notebook.exists() and (package / "grader" / "hidden" / NAME / "__init__.py").exists()
    assert "next steps" in out.stdout and "python -m grader lint ps6" in out.stdout

    # The only hand edit: the reference solution in the notebook.
    text = notebook.read_text()
    placeholder = 'raise NotImplementedError(\\"write the reference solution here\\")'
    assert placeholder in text
    notebook.write_text(text.replace(placeholder, "return 2 * x"))

    run(["release", "ps6"], course, package)
    assert "0 finding(s)" in run(["lint", "ps6"], course, package).stdout

    scores = {}
    for who, path in (("reference", notebook), ("blank", course / "release" / NAME / f"{NAME}.ipynb")):
        result = tmp_path / f"{who}.json"
        run(["grade", str(path), "--assignment", "ps6", "--json", str(result), "--quiet"], course, package)
        data = json.loads(result.read_text())
        scores[who] = (data["score"], data["max_score"])
    assert scores["reference"] == (4.0, 4.0)   # 3 hidden + 1 public (the written answer is by hand)
    assert scores["blank"] == (0.0, 4.0)


def test_new_refuses_a_bad_or_taken_name(tmp_path):
    with pytest.raises(BadSetName, match="not a set name"):
        create("Problem Set 6", tmp_path, tmp_path / "hidden")
    written = create(NAME, tmp_path, tmp_path / "hidden")
    assert Course(tmp_path).problem_sets() == (NAME,)
    assert [p.name for p in written] == [f"{NAME}.ipynb", "__init__.py"]
    with pytest.raises(BadSetName, match="exists already"):
        create(NAME, tmp_path, tmp_path / "hidden")


def test_the_skeleton_lints_clean_but_for_its_release(tmp_path):
    """Straight from ``new``, only the not-yet-generated release is missing."""
    import importlib.util

    from grader.lint import lint_set

    create(NAME, tmp_path, tmp_path / "hidden")
    spec = importlib.util.spec_from_file_location(
        f"grader.hidden.{NAME}", tmp_path / "hidden" / NAME / "__init__.py",
        submodule_search_locations=[str(tmp_path / "hidden" / NAME)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        assert [f.rule for f in lint_set(Course(tmp_path), NAME)] == ["release-missing"]
    finally:
        del sys.modules[spec.name]
