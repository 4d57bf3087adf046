"""Issue 14: two students submit ps1 through JupyterHub in a real browser, the instructor
grades with our sandboxed grader, each student gets their own feedback and no one else's.

Everything is real: JupyterHub (deploy/jupyterhub/jupyterhub_config.py) on 127.0.0.1 with
its test authenticator and the local-process spawner, npm's configurable-http-proxy,
Debian's chromium driven by playwright-core (tests/hub/browser.js), one OS account per
student and a non-root instructor account whose grader sandboxes every submission with
user namespaces. The exchange, the gradebook and the hub's database are throwaway. About
100 s on a 2-core machine (a loaded CI runner: allow several minutes; every wait is
generous); screenshots of each step go to out/hub-test/screenshots/.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from hubkit import (
    BIN,
    CHROMIUM,
    HUB_ENV,
    NODE_BIN,
    SHOTS,
    Hub,
    Users,
    as_user,
    browse,
    chown_tree,
    free_ports,
    require,
)

from grader.demo import PARTIAL
from grader.notebooks import cells
from grader.samples import build_submission

pytestmark = [pytest.mark.hub, pytest.mark.slow]

PS = "ps1_tensors"
COURSE = "intro-dl"
PASSWORD = "hub-test-password"
TEACHER, STUDENTS = "dlc-teacher", ("dlc-alice", "dlc-bob")
# Typed into the editor by each student; alice's other answers are the reference, bob's
# carry two of the demo's plausible mistakes.
TYPED = "return int(t.ndim), tuple(int(s) for s in t.shape)"
SCORE = re.compile(rf"{PS} \(Score: ([0-9.]+) / ([0-9.]+)\)")


@pytest.fixture
def world():
    """Accounts, folders and environments of one run; everything removed afterwards."""
    require()
    # The accounts have fixed names: two runs on one machine take turns instead of
    # removing each other's users.
    lock = (HUB_ENV.parent / "test.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    tmp = Path(tempfile.mkdtemp(prefix="dl-course-hub-"))
    tmp.chmod(0o755)
    users = Users()
    try:
        teacher = users.add(TEACHER, tmp / "course")
        students = {s: users.add(s, tmp / "home" / s) for s in STUDENTS}
        exchange = tmp / "exchange"
        exchange.mkdir()
        shutil.chown(exchange, teacher.pw_uid, teacher.pw_gid)
        exchange.chmod(0o755)
        base = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                "COURSE_ID": COURSE, "NBGRADER_EXCHANGE_ROOT": str(exchange)}
        # The instructor's commands take the grader from this checkout, which the sandbox
        # never binds into a worker; the students' environment has no grader at all.
        teacher_env = {**base, "PYTHONPATH": str(ROOT)}
        if SHOTS.exists():
            shutil.rmtree(SHOTS)
        SHOTS.mkdir(parents=True)
        yield {"tmp": tmp, "teacher": teacher, "students": students, "exchange": exchange,
               "env": base, "teacher_env": teacher_env}
    finally:
        users.remove_all()
        shutil.rmtree(tmp, ignore_errors=True)
        lock.close()


def teacher_runs(world, *argv: str) -> str:
    done = as_user(world["teacher"], list(argv), world["teacher_env"], Path(world["teacher"].pw_dir))
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def release_ps1(world):
    course = Path(world["teacher"].pw_dir)
    shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "source" / PS, course / "source" / PS)
    chown_tree(course, world["teacher"])
    # generate_assignment runs alembic by name: BIN on PATH is what makes it work.
    teacher_runs(world, "nbgrader", "generate_assignment", PS, "--force")
    teacher_runs(world, "nbgrader", "release_assignment", PS)


def answers_for(student: str) -> dict[str, str]:
    subs = PARTIAL[PS] if student == "dlc-bob" else None
    built = build_submission(PS, substitutions=subs)
    return {cells.grade_id(c): c.source for c in built.cells if cells.grade_id(c)
            and (cells.is_code_solution(c) or cells.is_written_answer(c))}


def fill_answers(world, student: str, ready: Path):
    """Once the browser has fetched ps1, answer all but the cell the browser will type."""
    user = world["students"][student]
    path = Path(user.pw_dir) / PS / f"{PS}.ipynb"
    answers = answers_for(student)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if gid in answers and gid != "rank_and_shape":
            cell.source = answers[gid]
    nbformat.write(nb, path)
    chown_tree(path.parent, user)
    ready.write_text("ready")


def student_submits(world, hub: Hub, student: str, first: int) -> dict:
    ready, fetched = world["tmp"] / f"{student}.ready", world["tmp"] / f"{student}.fetched"
    plan = {"hub": hub.url, "user": student, "password": PASSWORD, "steps": "submit",
            "assignment": PS, "shots": str(SHOTS), "first": first, "chromium": CHROMIUM,
            "cell": "rank_and_shape", "line": TYPED, "ready": str(ready), "fetched": str(fetched)}
    errors: list[BaseException] = []

    def filler():
        until = time.monotonic() + 900
        while not fetched.exists() and time.monotonic() < until:
            time.sleep(0.25)
        try:
            if fetched.exists():
                fill_answers(world, student, ready)
        except BaseException as exc:   # reported by the test, not lost in a thread
            errors.append(exc)

    thread = threading.Thread(target=filler, daemon=True)
    thread.start()
    result = browse(plan)
    thread.join(5)
    assert not errors, errors
    return result


def cli_score(world, student: str) -> float:
    course = Path(world["teacher"].pw_dir)
    out = course / f"cli-{student}.json"
    teacher_runs(world, str(BIN / "python"), "-m", "grader", "grade",
                 str(course / "submitted" / student / PS / f"{PS}.ipynb"), "--assignment", PS,
                 "--json", str(out), "--device", "cpu")
    data = json.loads(out.read_text())
    assert data["extra_data"]["sandboxed"] is True
    return float(data["score"])


def gradebook_scores(world) -> dict[str, float]:
    from nbgrader.api import Gradebook

    db = Path(world["teacher"].pw_dir) / "gradebook.db"
    with Gradebook(f"sqlite:///{db}", course_id=COURSE) as gb:
        return {s: gb.find_submission(PS, s).score for s in STUDENTS}


def test_two_students_submit_through_the_hub_and_get_only_their_own_feedback(world):
    tmp, exchange = world["tmp"], world["exchange"]
    release_ps1(world)

    state = tmp / "hub"
    state.mkdir()
    port = free_ports(3)
    hub_env = {**world["env"], "PATH": f"{BIN}:{NODE_BIN}:/usr/local/bin:/usr/bin:/bin",
               "HOME": str(state), "COURSE_HUB_IP": "127.0.0.1", "COURSE_HUB_PORT": str(port),
               "COURSE_HUB_STATE_DIR": str(state), "COURSE_HUB_TEST_PASSWORD": PASSWORD,
               "COURSE_HUB_STUDENTS": ",".join(STUDENTS), "COURSE_HUB_INSTRUCTORS": TEACHER}
    hub = Hub(hub_env, state, port)
    try:
        hub.wait_ready()
        runs = {s: student_submits(world, hub, s, first=1 + 4 * i) for i, s in enumerate(STUDENTS)}
        for run in runs.values():   # the students' tools only, from deploy/student/
            assert "Assignment List" in run["menu"] and "Formgrader" not in run["menu"], run["menu"]
        assert runs["dlc-alice"]["validated"], runs["dlc-alice"]["validation"]
        assert not runs["dlc-bob"]["validated"]   # bob's two mistakes fail public tests

        # Each submission is filed under its student's own id, by its student's own account.
        inbound = sorted(p.name.split("+")[0] for p in (exchange / COURSE / "inbound").iterdir())
        assert inbound == sorted(STUDENTS)
        for p in (exchange / COURSE / "inbound").iterdir():
            assert p.stat().st_uid == world["students"][p.name.split("+")[0]].pw_uid

        collected = teacher_runs(world, "nbgrader", "collect", PS)
        assert "owned by" not in collected    # nbgrader's warning when students share an account
        submitted = Path(world["teacher"].pw_dir) / "submitted"
        assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)

        graded = teacher_runs(world, str(BIN / "python"), "-m", "grader", "autograde", PS)
        assert "unsandboxed" not in graded.lower(), graded
        teacher_runs(world, "nbgrader", "generate_feedback", PS)
        teacher_runs(world, "nbgrader", "release_feedback", PS)
        book = browse({"hub": hub.url, "user": TEACHER, "password": PASSWORD, "first": 9,
                       "steps": "gradebook", "assignment": PS, "shots": str(SHOTS),
                       "students": list(STUDENTS), "chromium": CHROMIUM})
        assert all(s in book["gradebook_text"] for s in STUDENTS)
        assert "Formgrader" in book["menu"]     # the instructor keeps the instructor tools

        seen = {}
        for i, s in enumerate(STUDENTS):
            home = world["students"][s].pw_dir
            seen[s] = browse({"hub": hub.url, "user": s, "password": PASSWORD, "first": 10 + 2 * i,
                              "steps": "feedback", "assignment": PS, "shots": str(SHOTS),
                              "home": home, "chromium": CHROMIUM})
    finally:
        hub.stop()

    gradebook, scores = gradebook_scores(world), {}
    for s in STUDENTS:
        html = list((Path(world["students"][s].pw_dir) / PS / "feedback").glob(f"*/{PS}.html"))
        assert len(html) == 1, html
        text = html[0].read_text()
        match = SCORE.search(text)
        assert match, text[:2000]
        scores[s] = float(match.group(1))
        other = next(o for o in STUDENTS if o != s)
        assert other not in text
        assert SCORE.search(seen[s]["feedback_text"]).group(1) == match.group(1)
    cli = {s: cli_score(world, s) for s in STUDENTS}
    assert cli["dlc-alice"] > cli["dlc-bob"]
    for s in STUDENTS:
        assert gradebook[s] == pytest.approx(cli[s], abs=1e-6), (s, gradebook, cli)
        assert scores[s] == pytest.approx(round(cli[s], 2), abs=1e-6), (s, scores, cli)

    # alice cannot get bob's feedback: not as bob's student id, not from the exchange.
    alice = world["students"]["dlc-alice"]
    spoof = {**world["env"], "JUPYTERHUB_USER": "dlc-bob",
             "JUPYTER_CONFIG_PATH": str(ROOT / "deploy" / "student")}
    before = sorted(str(p) for p in Path(alice.pw_dir).rglob("*.html"))
    as_user(alice, ["nbgrader", "fetch_feedback", PS], spoof, Path(alice.pw_dir))
    after = sorted(str(p) for p in Path(alice.pw_dir).rglob("*.html"))
    assert after == before
    for folder in ("feedback", "inbound"):   # nor list others' feedback or submissions
        listing = as_user(alice, [str(BIN / "python"), "-c",
                                  f"import os; print(os.listdir({str(exchange / COURSE / folder)!r}))"],
                          world["env"], Path(alice.pw_dir))
        assert "PermissionError" in listing.stderr, (folder, listing.stdout)
    bob_home = as_user(alice, ["ls", world["students"]["dlc-bob"].pw_dir], world["env"],
                       Path(alice.pw_dir))
    assert bob_home.returncode != 0
