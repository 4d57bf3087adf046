"""The class report (CSV per set and for the course, PNG per set, summary) against the gradebook.

A batch of reference, wrong and blank submissions (and a student without one) is graded
into a scratch gradebook once; every number the report writes or plots is then checked
against nbgrader's own Gradebook API, read independently of the report's code.
"""

from __future__ import annotations

import csv
import io
import statistics
import struct
import warnings

import nbformat
import pytest
from conftest import make_course, settings_for
from nbgrader.api import Gradebook

from grader.autograde import main as autograde
from grader.autograde.class_report import main
from grader.autograde.gradebook import read_gradebook
from grader.autograde.nbgrader_api import make_api
from grader.course import Course
from grader.notebooks import cells
from grader.release import main as release
from grader.report.class_report import CellGrade, StudentRow, draw, summarise
from grader.samples import build_submission, write_submission

PS = "ps1_tensors"
WRONG = {   # two plausible mistakes (as in the demo's partial student)
    "mul_and_matmul": [("return m1 * m2, m1 @ m2", "return m1 * m2, m1 * m2")],
    "take_columns": [("t[:, start:stop]", "t[:, start:stop + 1]")],
}
SUBMITTED = ("blank", "ref", "wrong")

warnings.filterwarnings("ignore", module="nbgrader")


def _gradebook(course: Course) -> Gradebook:
    cd = make_api(course.root).coursedir
    return Gradebook(cd.db_url, course_id=cd.course_id)


def _read_csv(path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(newline="")))


# -- the pure part: no gradebook ----------------------------------------------------------

def _row(student, **grades):
    return StudentRow(student, {gid: CellGrade(s, m, False) for gid, (s, m) in grades.items()})


def test_summarise_shares_percents_and_hardest():
    rows = [_row("a", q1=(2, 2), q2=(0, 4), q3=(1, 1)),
            _row("b", q1=(1, 2), q2=(2, 4), q3=(1, 1)),
            StudentRow("c", None)]
    r = summarise("psX", {"q1": 2.0, "q2": 4.0, "q3": 1.0}, rows)
    assert r.mean_share == {"q1": 0.75, "q2": 0.25, "q3": 1.0}
    assert r.percents == pytest.approx((100 * 3 / 7, 100 * 4 / 7))   # c did not submit
    assert r.hardest() == [("q2", 0.25), ("q1", 0.75), ("q3", 1.0)]
    assert r.percent(rows[2]) == 0
    fig = draw(r)
    assert [p.get_width() for p in fig.axes[1].patches] == [0.75, 0.25, 1.0]
    assert sum(p.get_height() for p in fig.axes[0].patches) == 2


def test_unscored_cells_are_left_out_of_the_share_and_counted_as_pending():
    pending = CellGrade(0.0, 5.0, needs_manual_grade=True, scored=False)
    rows = [StudentRow("a", {"q1": CellGrade(1, 1, False), "essay": pending})]
    r = summarise("psX", {"q1": 1.0, "essay": 5.0}, rows)
    assert r.mean_share == {"q1": 1.0, "essay": None}
    assert r.hardest() == [("q1", 1.0)]
    assert rows[0].manual_points_pending == 5


# -- errors: no grading needed ------------------------------------------------------------

def test_missing_and_empty_gradebook_and_unknown_assignment(tmp_path, capsys):
    course = Course(make_course(tmp_path / "course", [PS]))
    assert main(settings=settings_for(course), quiet=True) == 2
    assert "no gradebook" in capsys.readouterr().err
    with _gradebook(course):   # creates an empty one
        pass
    assert main(settings=settings_for(course), quiet=True) == 2
    assert "empty" in capsys.readouterr().err
    with _gradebook(course) as gb:
        gb.add_assignment(PS)
    assert main(assignments=["ps9_nope"], settings=settings_for(course), quiet=True) == 2
    err = capsys.readouterr().err
    assert "ps9_nope" in err and PS in err and "Traceback" not in err
    assert not (course.root / "reports").exists()


# -- a graded batch -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("course"), [PS])
    course = Course(root)
    assert release(assignments=[PS], settings=settings_for(course)) == 0
    write_submission(build_submission(PS, course=course), root, "ref", PS)
    write_submission(build_submission(PS, answers="blank", course=course), root, "blank", PS)
    write_submission(build_submission(PS, substitutions=WRONG, course=course), root, "wrong", PS)
    assert autograde(assignment=PS, jobs=2, settings=settings_for(course), progress=False, feedback=False) == 0
    with _gradebook(course) as gb:
        gb.add_student("absent")   # enrolled, never submitted
    out = root / "out"
    assert main(settings=settings_for(course), out_dir=out, quiet=True) == 0
    return course, out


def _graded_ids(course: Course) -> list[str]:
    nb = nbformat.read(course.source_notebook(PS), as_version=4)
    return [cells.grade_id(c) for c in nb.cells if cells.is_grade(c)]


@pytest.mark.slow
def test_set_csv_is_the_gradebook(graded):
    course, out = graded
    rows = {r["student_id"]: r for r in _read_csv(out / f"{PS}.csv")}
    ids = _graded_ids(course)
    assert list(next(iter(rows.values()))) == ["student_id", *ids, "total", "max_score",
                                               "percent", "manual_points_pending", "submitted"]
    assert sorted(rows) == ["absent", *SUBMITTED]
    with _gradebook(course) as gb:
        for student in SUBMITTED:
            row, sub = rows[student], gb.find_submission(PS, student)
            for gid in ids:
                assert float(row[gid]) == pytest.approx(
                    gb.find_grade(gid, PS, PS, student).score, abs=0.005), (student, gid)
            assert float(row["total"]) == pytest.approx(sub.score, abs=0.005)
            assert float(row["max_score"]) == pytest.approx(sub.max_score)
            assert float(row["percent"]) == pytest.approx(100 * sub.score / sub.max_score, abs=0.005)
            assert row["submitted"] == "yes" and float(row["manual_points_pending"]) == 0
    absent = rows["absent"]
    assert absent["submitted"] == "no" and float(absent["total"]) == 0
    assert all(absent[gid] == "" for gid in ids)

    nb = nbformat.read(course.source_notebook(PS), as_version=4)
    auto = sum(cells.points(c) for c in nb.cells if cells.is_grade(c)
               and not cells.is_written_answer(c))
    answers = [cells.grade_id(c) for c in nb.cells if cells.is_code_solution(c)]
    assert float(rows["ref"]["total"]) == pytest.approx(auto)
    assert all(float(rows["blank"][gid]) == 0 for gid in answers)
    assert 0 < float(rows["wrong"]["total"]) < float(rows["ref"]["total"])
    for gid in WRONG:
        assert float(rows["wrong"][gid]) < float(rows["ref"][gid])


@pytest.mark.slow
def test_course_csv_has_one_total_per_set(graded):
    course, out = graded
    rows = _read_csv(out / "all.csv")
    assert [list(r) for r in rows[:1]] == [["student_id", PS]]
    with _gradebook(course) as gb:
        for r in rows:
            want = gb.find_submission(PS, r["student_id"]).score if r["student_id"] != "absent" else 0
            assert float(r[PS]) == pytest.approx(want, abs=0.005)


@pytest.mark.slow
def test_png_plots_the_gradebook(graded):
    course, out = graded
    png = (out / f"{PS}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 800 and height >= 400 and len(png) > 20_000

    with _gradebook(course) as gb:   # per grade_id mean share, straight from the gradebook
        want = {gid: statistics.fmean(gb.find_grade(gid, PS, PS, s).score
                                      / gb.find_grade(gid, PS, PS, s).max_score
                                      for s in SUBMITTED) for gid in _graded_ids(course)}
        percents = sorted(100 * (sub := gb.find_submission(PS, s)).score / sub.max_score
                          for s in SUBMITTED)
        report = summarise(PS, *read_gradebook(gb, PS, course.root / "source" / PS))
    assert list(report.mean_share) == list(want)
    assert report.mean_share == pytest.approx(want)
    assert sorted(report.percents) == pytest.approx(percents)
    fig = draw(report)
    assert [p.get_width() for p in fig.axes[1].patches] == pytest.approx(list(want.values()))
    assert sum(p.get_height() for p in fig.axes[0].patches) == len(SUBMITTED)
    assert "3 submissions" in fig.get_suptitle()
    buf = io.BytesIO()   # the file main wrote is this very figure
    fig.savefig(buf, format="png", dpi=100)
    assert buf.getvalue() == png


@pytest.mark.slow
def test_summary_names_the_hardest_exercises(graded, capsys):
    course, out = graded
    assert main(settings=settings_for(course), out_dir=out, assignments=["ps1"]) == 0   # a short name will do
    text = capsys.readouterr().out
    assert PS in text and str(out / f"{PS}.png") in text and str(out / "all.csv") in text
    rows = [r for r in _read_csv(out / f"{PS}.csv") if r["submitted"] == "yes"]
    nb = nbformat.read(course.source_notebook(PS), as_version=4)
    points = {cells.grade_id(c): cells.points(c) for c in nb.cells if cells.is_grade(c)}
    share = {gid: statistics.fmean(float(r[gid]) / p for r in rows) for gid, p in points.items()}
    lowest = sorted(points, key=lambda gid: share[gid])[:3]   # ties keep notebook order
    line = next(ln for ln in text.splitlines() if ln.startswith(PS))
    assert [part.rsplit(" ", 1)[0] for part in line.split("  ")[-1].split(", ")] == lowest
    assert any(gid in lowest for gid in WRONG)   # a planted mistake is among the hardest
    mean = statistics.fmean(float(r["percent"]) for r in rows)
    assert f" {mean:.1f} " in line
