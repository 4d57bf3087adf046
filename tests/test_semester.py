"""Issue 11: the README's semester, run as written, with two students through the exchange.

Every command of the README's instructor and student guides (the blocks marked
``<!-- semester: NAME -->``) runs here in a fresh course with a throwaway exchange, from
nothing to released feedback, an exported CSV and a report; the test only fills in the
answers (a student's typing) and gives the manual grade (a grader's clicks in formgrader,
done through nbgrader's API). Each student has a home of their own and is identified by
``JUPYTERHUB_USER``, as on a hub.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, make_course
from nbgrader.api import Gradebook

from grader.demo import PARTIAL
from grader.notebooks import cells
from grader.notebooks.guides import written_answers
from grader.samples import reference_answers

PS = "ps2_gradients"
DEFAULT_EXCHANGE = "/usr/local/share/nbgrader/exchange"


def readme_blocks() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    blocks = {}
    for m in re.finditer(r"<!-- semester: ([\w-]+) -->\s*```bash\n(.*?)```", text, re.S):
        blocks[m.group(1)] = [ln for ln in m.group(2).splitlines()
                              if ln.strip() and not ln.lstrip().startswith("#")]
    return blocks


class Machine:
    """Runs README lines as an instructor (in the course) or a student (in their home)."""

    def __init__(self, tmp: Path):
        self.exchange = tmp / "exchange"
        self.course = make_course(tmp / "course", [PS])
        shutil.copytree(ROOT / "release" / PS, self.course / "release" / PS)
        self.tmp = tmp
        venv_bin = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("NBGRADER_DB_URL", "GRADER_COURSE_ROOT", "JUPYTERHUB_USER")}
        self.env.update(PATH=f"{venv_bin}:{os.environ['PATH']}",
                        NBGRADER_EXCHANGE_ROOT=str(self.exchange))

    def home(self, student: str) -> Path:
        home = self.tmp / "home" / student
        if not home.exists():      # what the hub image (or the instructor) hands out
            (home / ".jupyter").mkdir(parents=True)
            shutil.copy2(ROOT / "deploy" / "student" / "nbgrader_config.py",
                         home / ".jupyter" / "nbgrader_config.py")
        return home

    def run(self, block: list[str], *, student: str | None = None) -> str:
        cwd = self.home(student) if student else self.course
        env = dict(self.env)
        if student:
            env.update(HOME=str(cwd), JUPYTERHUB_USER=student)
        else:
            env.update(HOME=str(self.tmp / "home" / "instructor"))
        out = []
        for line in block:
            cmd = line.replace(DEFAULT_EXCHANGE, str(self.exchange)).replace("sudo ", "")
            done = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=900)
            assert done.returncode == 0, f"{student or 'instructor'}: {line}\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
            out.append(done.stdout + done.stderr)
        return "\n".join(out)


def _answer(path: Path, mistakes: dict) -> None:
    """What a student types: the instructor's answers, with some mistakes for bob."""
    source = nbformat.read(ROOT / "source" / PS / f"{PS}.ipynb", as_version=4)
    code, written = reference_answers(source), written_answers(source)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if cells.is_code_solution(cell):
            cell.source = code[gid]
            for old, new in mistakes.get(gid, []):
                cell.source = cell.source.replace(old, new)
        elif cells.is_written_answer(cell):
            cell.source = written[gid][0]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_the_readme_semester_from_nothing_to_feedback_and_grades(tmp_path):
    blocks = readme_blocks()
    assert set(blocks) >= {"instructor-setup", "instructor-release", "instructor-grade",
                           "instructor-feedback", "student-fetch", "student-submit",
                           "student-feedback"}
    m = Machine(tmp_path)
    students = {"alice": {}, "bob": PARTIAL[PS]}

    m.run(blocks["instructor-setup"])
    m.run(blocks["instructor-release"])
    for s, mistakes in students.items():
        listed = m.run(blocks["student-fetch"], student=s)
        assert PS in listed
        _answer(m.home(s) / PS / f"{PS}.ipynb", mistakes)
        validated = m.run(blocks["student-submit"], student=s)
        assert ("Success" in validated) == (s == "alice"), validated[-2000:]

    graded = m.run(blocks["instructor-grade"])
    table = {ln.split()[0]: ln.split() for ln in graded.splitlines() if ln.split()[:1] in (["alice"], ["bob"])}
    assert table["alice"][1:4] == ["29", "29", "6"], graded[-1500:]   # auto, auto max, waiting
    db = f"sqlite:///{m.course / 'gradebook.db'}"
    with Gradebook(db) as gb:          # the grader's clicks in formgrader
        for s, points in (("alice", 3.0), ("bob", 1.5)):
            for gid in ("written_dcost_dW", "written_lr_divergence"):
                grade = gb.find_grade(gid, PS, PS, s)
                assert grade.needs_manual_grade, f"{s}'s {gid} should wait for a person"
                grade.manual_score, grade.needs_manual_grade = points, False
        gb.db.commit()
        expected = {s: gb.find_submission(PS, s).score for s in students}
        maximum = gb.find_assignment(PS).max_score
    assert expected["alice"] == maximum == 35
    assert 0 < expected["bob"] < expected["alice"]

    report = m.run(blocks["instructor-feedback"])
    assert "reports" in report
    for s in students:
        m.run(blocks["student-feedback"], student=s)
        html = next((m.home(s) / PS / "feedback").glob(f"*/{PS}.html")).read_text()
        total = re.search(r"([\d.]+) / 35\.0", html)    # nbgrader's total at the top
        assert total and float(total.group(1)) == pytest.approx(expected[s]), s  # their own
        assert "Marking guide" not in html and "For graders only" not in html

    with open(m.course / "grades.csv") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == PS}
    assert {s: float(rows[s]["score"]) for s in students} == expected
    with open(m.course / "reports" / f"{PS}.csv") as fh:
        per_id = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert {s: float(per_id[s]["total"]) for s in students} == expected
    assert float(per_id["bob"]["mse_gradients"]) < float(per_id["alice"]["mse_gradients"])
    assert (m.course / "reports" / f"{PS}.png").stat().st_size > 10_000
    # nothing of the exchange or of a grade ends up tracked by git in a clone
    ignored = subprocess.run(["git", "check-ignore", "grades.csv", "reports/x.csv",
                              "gradebook.db", "submitted/a", "feedback/a", "out/demo"],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert len(ignored) == 6, ignored
