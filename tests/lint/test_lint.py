"""Issue 15: ``python -m grader lint`` catches each authoring mistake, and only mistakes.

Each rule is tried on a scratch course built from the real ps1 source (and its committed
release) with exactly one mutation; the finding must name the rule, the file and the cell,
and the verb must exit 1. The unmutated copy and the shipped course lint clean, so every
finding below comes from its mutation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, make_course, settings_for

from grader.course import Course
from grader.lint import lint_set, main
from grader.lint.release import leaked_lines

PS = "ps1_tensors"


@pytest.fixture
def course(tmp_path) -> Path:
    """A scratch course: the real config, ps1's source and its committed release."""
    make_course(tmp_path, [PS])
    shutil.copytree(ROOT / "release" / PS, tmp_path / "release" / PS)
    return tmp_path


def source_of(course: Path) -> Path:
    return course / "source" / PS / f"{PS}.ipynb"


def release_of(course: Path) -> Path:
    return course / "release" / PS / f"{PS}.ipynb"


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def index(nb, grade_id) -> int:
    return next(i for i, c in enumerate(nb.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def mutate(path: Path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def meta(nb, grade_id) -> dict:
    return cell(nb, grade_id).metadata["nbgrader"]


def _add_solution(nb):
    extra = nbformat.v4.new_code_cell("def extra(x):\n    ### BEGIN SOLUTION\n    return x\n"
                                      "    ### END SOLUTION", metadata={"nbgrader": {
                                          "grade": True, "grade_id": "extra", "locked": False,
                                          "points": 1, "schema_version": 3, "solution": True,
                                          "task": False}})
    nb.cells.append(extra)


def _output(nb):
    c = cell(nb, "setup")
    c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    c.execution_count = 3


def _without_markers(nb):
    c = cell(nb, "one_hot")
    c.source = "\n".join(ln for ln in c.source.splitlines() if "### " not in ln)


# rule -> (mutation of the source notebook, the grade_id of the cell the finding names)
SOURCE_MUTATIONS = {
    "missing-grade-id": (lambda nb: meta(nb, "md_rank_shape").pop("grade_id"), None),
    "duplicate-grade-id": (lambda nb: meta(nb, "test_take_columns").update(
        grade_id="test_rank_and_shape"), "test_rank_and_shape"),
    "unbalanced-solution-markers": (lambda nb: setattr(cell(nb, "one_hot"), "source", cell(
        nb, "one_hot").source.replace("    ### END SOLUTION", "")), "one_hot"),
    "markers-outside-solution": (lambda nb: setattr(cell(nb, "setup"), "source", cell(
        nb, "setup").source + "\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), "setup"),
    "solution-without-markers": (_without_markers, "one_hot"),
    "graded-without-points": (lambda nb: meta(nb, "test_one_hot").update(points=0), "test_one_hot"),
    "outputs-committed": (_output, "setup"),
    "unlocked-test": (lambda nb: meta(nb, "test_one_hot").update(locked=False), "test_one_hot"),
    "hidden-unknown-grade-id": (lambda nb: meta(nb, "one_hot").update(grade_id="onehot"), None),
    "untested-solution": (_add_solution, "extra"),
    "points-mismatch": (lambda nb: meta(nb, "one_hot").update(points=4), "one_hot"),
    "stated-total": (lambda nb: setattr(cell(nb, "md_title"), "source", cell(
        nb, "md_title").source.replace("| **25** |", "| **26** |")), "md_title"),
}


def lint_cli(course: Path, capsys) -> tuple[int, str]:
    status = main(assignments=["ps1"], settings=settings_for(course))
    return status, capsys.readouterr().err


def test_the_unmutated_copy_lints_clean(course, capsys):
    mutate(source_of(course), lambda nb: None)   # rewritten as the mutations are
    assert lint_set(Course(course), PS) == []
    assert lint_cli(course, capsys)[0] == 0


@pytest.mark.parametrize("rule", SOURCE_MUTATIONS)
def test_each_source_mistake_is_reported_with_file_cell_and_fix(rule, course, capsys):
    change, grade_id = SOURCE_MUTATIONS[rule]
    before = nbformat.read(source_of(course), as_version=4)
    mutate(source_of(course), change)
    findings = [f for f in lint_set(Course(course), PS, release=False) if f.rule == rule]
    assert findings, f"{rule} was not reported"
    f = findings[0]
    if rule == "hidden-unknown-grade-id":
        assert f.file == ROOT / "grader" / "hidden" / PS and "'one_hot'" in f.message
    else:
        assert f.file == source_of(course)
        want = f"cell {index(before, 'md_rank_shape')}" if rule == "missing-grade-id" else \
            f"grade_id {grade_id!r}"
        assert want in f.cell, f.cell
    assert f.fix
    status, err = lint_cli(course, capsys)
    assert status == 1
    assert f"[{rule}] {f.message}" in err and f"fix: {f.fix}" in err


def test_a_solution_line_in_the_release_is_a_leak(course, capsys):
    line = "out[torch.arange(labels.shape[0]), labels] = 1.0"
    mutate(release_of(course), lambda nb: setattr(cell(nb, "one_hot"), "source",
                                                  cell(nb, "one_hot").source + "\n    " + line))
    leaks = [f for f in lint_set(Course(course), PS) if f.rule == "solution-leak"]
    assert [f.message for f in leaks] == [f"solution line {line!r} is in the student version"]
    assert leaks[0].file == release_of(course) and "'one_hot'" in leaks[0].cell
    status, err = lint_cli(course, capsys)
    assert status == 1 and "[solution-leak]" in err


def test_leak_check_ignores_lines_the_source_shows_publicly():
    source = nbformat.read(ROOT / "source" / PS / f"{PS}.ipynb", as_version=4)
    assert leaked_lines(source, nbformat.read(release_of(ROOT), as_version=4)) == {}
    assert leaked_lines(source, source)   # the source itself is all leak


def test_a_release_older_than_its_source_is_stale(course, capsys):
    mutate(source_of(course), lambda nb: setattr(cell(nb, "md_title"), "source",
                                                 cell(nb, "md_title").source + "\n\nNew line."))
    stale = [f for f in lint_set(Course(course), PS) if f.rule == "release-stale"]
    assert [f.file for f in stale] == [release_of(course)]
    status, err = lint_cli(course, capsys)
    assert status == 1 and "python -m grader release ps1_tensors" in err


def test_a_missing_release_is_reported(course):
    release_of(course).unlink()
    assert [f.rule for f in lint_set(Course(course), PS)] == ["release-missing"]


def test_a_set_without_hidden_tests_is_reported(tmp_path):
    (tmp_path / "source" / "ps6_new").mkdir(parents=True)
    shutil.copy2(ROOT / "source" / PS / f"{PS}.ipynb", tmp_path / "source" / "ps6_new" / "ps6_new.ipynb")
    found = lint_set(Course(tmp_path), "ps6_new", release=False)
    assert [f.rule for f in found] == ["no-hidden-tests"]


def test_an_unreadable_notebook_is_named(course):
    source_of(course).write_text("{ not json")
    found = lint_set(Course(course), PS)
    assert [(f.rule, f.file) for f in found] == [("unreadable", source_of(course))]


def test_the_shipped_sets_lint_clean_through_the_cli_in_seconds():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "grader", "lint"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    assert "5 set(s), 0 finding(s)" in out.stdout
    assert elapsed < 30, f"lint took {elapsed:.1f} s; scripts/test.sh runs it on every test run"


def test_a_source_nbgrader_rejects_is_reported_not_a_crash(course, capsys):
    mutate(source_of(course), lambda nb: meta(nb, "md_rank_shape").pop("grade_id"))
    found = {f.rule: f for f in lint_set(Course(course), PS)}
    assert "generate-fails" in found and "metadata" in found["generate-fails"].message
    assert "missing-grade-id" in found   # the cause comes first, with its cell


def test_the_test_script_lints_before_the_suite():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "python -m grader lint\n" in script
    assert script.index("python -m grader lint") < script.index("python -m pytest")
