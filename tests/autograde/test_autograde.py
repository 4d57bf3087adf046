"""Issue 4: a course batch through nbgrader (gradebook, autograded/, feedback, export)."""

from __future__ import annotations

import csv
import inspect
import io
import os
import re
import subprocess
import sys

import nbformat
import pytest
from conftest import make_course, present_sets, settings_for

from grader.autograde import main as autograde
from grader.course import Course
from grader.hidden import hidden_tests_for
from grader.notebooks import cells
from grader.release import main as release
from grader.samples import build_submission, write_submission

SETS = [ps for ps in present_sets() if os.environ.get("ONLY_PS", ps) == ps]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("course"), SETS)
    course = Course(root)
    assert release(assignments=SETS, settings=settings_for(course)) == 0
    for ps in SETS:
        write_submission(build_submission(ps, course=course), root, "ref", ps)
        write_submission(build_submission(ps, answers="blank", course=course), root, "blank", ps)
    for ps in SETS:
        assert autograde(assignment=ps, jobs=2, settings=settings_for(course), progress=False) == 0
    return course


def _export(course: Course) -> dict[tuple[str, str], dict]:
    out = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", "/dev/stdout"],
                         cwd=course.root, capture_output=True, text=True, check=True)
    text = out.stdout[out.stdout.index("assignment,"):]
    return {(r["assignment"], r["student_id"]): r for r in csv.DictReader(io.StringIO(text))}


def _manual_points(course: Course, ps: str) -> float:
    nb = nbformat.read(course.source_notebook(ps), as_version=4)
    return sum(cells.points(c) for c in nb.cells if cells.is_written_answer(c))


@pytest.mark.slow
@pytest.mark.parametrize("ps", SETS)
def test_reference_gets_every_automatic_point_and_blank_none(course, ps):
    rows = _export(course)
    ref, blank = rows[(ps, "ref")], rows[(ps, "blank")]
    auto_max = float(ref["max_score"]) - _manual_points(course, ps)
    assert float(ref["raw_score"]) == pytest.approx(auto_max)
    assert float(blank["raw_score"]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("ps", SETS)
def test_feedback_lists_tests_without_hidden_source(course, ps):
    html = (course.root / "feedback" / "blank" / ps / f"{ps}.html").read_text()
    for t in hidden_tests_for(ps):
        assert t.name.replace("&", "&amp;").replace("'", "&#x27;").split(":")[0] in html
    for t in hidden_tests_for(ps):  # no line of a hidden test's own code appears
        body = inspect.getsource(t.fn).splitlines()[2:]
        code_lines = [ln.strip() for ln in body if len(ln.strip()) > 25]
        leaked = [ln for ln in code_lines if ln in html]
        assert not leaked, leaked[:3]
    assert "ctx.student" not in html and "ctx.ref" not in html


@pytest.mark.slow
def test_rerun_keeps_results_and_regrades_only_changes(course, capsys):
    ps = SETS[0]
    results = course.results_dir(ps)
    before = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    nb = build_submission(ps, course=course)
    nb.cells.append(nbformat.v4.new_markdown_cell("resubmitted"))
    write_submission(nb, course.root, "ref", ps)
    assert autograde(assignment=ps, jobs=1, settings=settings_for(course), progress=True) == 0
    # Issue 13: every phase shows done/total, an ETA and the failures so far.
    err = capsys.readouterr().err
    for phase in (f"grading {ps}", f"recording {ps} in the gradebook", f"feedback for {ps}"):
        assert re.search(rf"{phase}: 100%.*\b1/1 \[[0-9:]+<[0-9:]+.*failures=0", err), (phase, err[-1500:])
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert after["blank.json"] == before["blank.json"], "an unchanged submission was regraded"
    assert after["ref.json"] != before["ref.json"], "a changed submission was not regraded"
