"""Issue 11: every nbgrader entry point runs the course's grader, and reruns keep hand grades.

Plain ``nbgrader autograde`` and formgrader's Autograde button used to execute submissions
in nbgrader's own kernel (no sandbox, no hidden tests) and replace the real grades; a rerun
of ``python -m grader autograde`` re-flagged every hand-graded submission. Each entry point
is driven here as an instructor would drive it, on a scratch course.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, make_course, settings_for
from nbgrader.api import Gradebook

from grader.autograde import main as autograde
from grader.course import Course
from grader.notebooks import cells
from grader.notebooks.guides import written_answers
from grader.release import main as release
from grader.samples import build_submission, write_submission

PS = "ps2_gradients"       # code answers, public tests and a written answer
AUTO_MAX = 29.0            # ps2's automatic points (35 with the two written answers)
ENV = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_DB_URL", "GRADER_COURSE_ROOT")}


def _course(tmp_path: Path, students=("ref", "blank")) -> Course:
    course = Course(make_course(tmp_path / "course", [PS]))
    assert release(assignments=[PS], settings=settings_for(course)) == 0
    for s in students:
        write_submission(build_submission(PS, course=course, answers="blank" if s == "blank"
                                          else "reference"), course.root, s, PS)
    return course


def _scores(course: Course) -> dict[str, tuple[float, float]]:
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        out = {}
        for s in gb.students:
            sub = gb.find_submission(PS, s.id)
            out[s.id] = (sub.score, sub.max_score)
        return out


def _nbgrader(course: Course, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course.root, env=ENV,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_plain_nbgrader_autograde_runs_the_sandboxed_grader(tmp_path):
    course = _course(tmp_path)
    assert _nbgrader(course, "generate_assignment", PS, "--force").returncode == 0
    out = _nbgrader(course, "autograde", PS)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "in the sandbox" in out.stderr
    assert _scores(course) == {"ref": (AUTO_MAX, 35.0), "blank": (0.0, 35.0)}
    graded = nbformat.read(course.autograded_dir("ref", PS) / f"{PS}.ipynb", as_version=4)
    answer = next(c for c in graded.cells if cells.grade_id(c) == "mse_gradients")
    assert "Hidden tests:" in json.dumps(answer.outputs)      # our results, not a kernel run
    # the results nbgrader's own run left behind are ours: a second grader run reuses them
    assert (course.results_dir(PS) / "ref.json").exists()


@pytest.mark.slow
def test_plain_nbgrader_autograde_without_the_sandbox_refuses_and_names_our_command(tmp_path):
    course = _course(tmp_path, students=("ref",))
    assert _nbgrader(course, "generate_assignment", PS, "--force").returncode == 0
    bin_dir = Path(sys.executable).parent                     # no bwrap on this PATH
    env = {**ENV, "PATH": str(bin_dir)}
    out = subprocess.run([str(bin_dir / "nbgrader"), "autograde", PS], cwd=course.root, env=env,
                         capture_output=True, text=True, timeout=600)
    assert "python -m grader autograde" in out.stderr and "sandbox" in out.stderr
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        assert gb.find_submission(PS, "ref").score == 0       # nothing was graded in a kernel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_formgraders_autograde_button_runs_the_sandboxed_grader(tmp_path):
    course = _course(tmp_path, students=("ref",))
    assert _nbgrader(course, "generate_assignment", PS, "--force").returncode == 0
    port, token = _free_port(), "t0ken"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={course.root}", "--allow-root"],
        cwd=course.root, env={**ENV, "HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-3000:]
                time.sleep(0.5)
        # what formgrader's "Autograde" button posts (nbgrader/server_extensions/formgrader)
        req = urllib.request.Request(f"{base}/formgrader/api/submission/{PS}/ref/autograde",
                                     method="POST", data=b"",
                                     headers={"Authorization": f"token {token}"})
        reply = json.loads(urllib.request.urlopen(req, timeout=600).read())
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert reply["success"], reply.get("log", "")[-3000:]
    assert _scores(course)["ref"] == (AUTO_MAX, 35.0)


def test_a_course_config_without_the_grader_chain_is_refused(tmp_path, capsys):
    course = _course(tmp_path, students=("ref",))
    text = (ROOT / "nbgrader_config.py").read_text()
    cut = text.index("c.Autograde.autograde_preprocessors")
    (course.root / "nbgrader_config.py").write_text(text[:cut])
    assert autograde(assignment=PS, settings=settings_for(course), progress=False) == 2
    err = capsys.readouterr().err
    assert "ApplyGraderResults" in err and "nbgrader_config.py" in err


@pytest.mark.slow
def test_rerun_after_a_late_submission_keeps_hand_grades_and_flags(tmp_path):
    course = _course(tmp_path)
    assert autograde(assignment=PS, jobs=2, settings=settings_for(course), progress=False) == 0
    db = f"sqlite:///{course.root / 'gradebook.db'}"
    with Gradebook(db) as gb:       # an instructor grades by hand, as formgrader does
        written = gb.find_grade("written_dcost_dW", PS, PS, "ref")
        assert written.needs_manual_grade
        written.manual_score, written.needs_manual_grade = 2.5, False
        override = gb.find_grade("mse_cost", PS, PS, "blank")
        override.manual_score, override.needs_manual_grade = 1.0, False
        gb.db.commit()
        comment = gb.find_comment("written_dcost_dW", PS, PS, "ref")
        comment.manual_comment = "good, but the shape is missing"
        gb.db.commit()
    write_submission(build_submission(PS, course=course), course.root, "late", PS)
    assert autograde(assignment=PS, jobs=2, settings=settings_for(course), progress=False) == 0
    with Gradebook(db) as gb:
        written = gb.find_grade("written_dcost_dW", PS, PS, "ref")
        assert (written.manual_score, written.needs_manual_grade) == (2.5, False)
        override = gb.find_grade("mse_cost", PS, PS, "blank")
        assert (override.score, override.needs_manual_grade) == (1.0, False)
        assert gb.find_comment("written_dcost_dW", PS, PS, "ref").manual_comment.startswith("good")
        assert gb.find_submission(PS, "ref").score == AUTO_MAX + 2.5
        assert gb.find_submission(PS, "late").score == AUTO_MAX


@pytest.mark.slow
def test_graders_see_the_marking_guide_and_students_never_do(tmp_path):
    course = _course(tmp_path, students=("ref",))
    assert autograde(assignment=PS, settings=settings_for(course), progress=False) == 0
    graded = nbformat.read(course.autograded_dir("ref", PS) / f"{PS}.ipynb", as_version=4)
    texts = [c.source for c in graded.cells if c.cell_type == "markdown"]
    box = next(t for t in texts if "For graders only" in t)
    assert "Marking guide (3 points)" in box and "28}{3}" in box
    at = next(i for i, c in enumerate(graded.cells) if cells.grade_id(c) == "written_dcost_dW")
    assert "For graders only" in graded.cells[at + 1].source     # right under the answer
    html = (course.root / "feedback" / "ref" / PS / f"{PS}.html").read_text()
    assert "Marking guide" not in html and "For graders only" not in html
    # plain `nbgrader generate_feedback` drops it too (the course config's feedback chain)
    shutil.rmtree(course.root / "feedback")
    assert _nbgrader(course, "generate_feedback", PS, "--force").returncode == 0
    html = (course.root / "feedback" / "ref" / PS / f"{PS}.html").read_text()
    assert "Marking guide" not in html and "Hidden tests" in html


@pytest.mark.parametrize("ps", ["ps2_gradients", "ps3_backprop"])
def test_every_written_answer_has_a_model_answer_and_a_marking_guide(ps):
    source = nbformat.read(ROOT / "source" / ps / f"{ps}.ipynb", as_version=4)
    answers = written_answers(source)
    assert answers, f"{ps} has no written answer"
    for gid, (answer, guide) in answers.items():
        assert len(answer) > 200, gid
        assert guide.startswith("*Marking guide"), gid
        release = (ROOT / "release" / ps / f"{ps}.ipynb").read_text()
        assert "Marking guide" not in release
