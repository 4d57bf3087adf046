"""Issue 14's known traps of nbgrader on JupyterHub, each shown with real nbgrader runs and
each answered by the shipped configuration (deploy/jupyterhub/, deploy/student/, the
course's nbgrader_config.py). Fast: no hub, no browser (tests/test_hub.py does those).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT

PS = "ps1_tensors"
BIN = Path(sys.executable).parent
STUDENT_CONFIG = ROOT / "deploy" / "student"
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"


def nbgrader(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def exchange(tmp_path) -> dict:
    """An exchange holding ps1 as released (outbound), and a clean environment for it."""
    root = tmp_path / "exchange"
    course = root / "intro-dl"
    (course / "outbound" / PS).mkdir(parents=True)
    shutil.copy2(ROOT / "release" / PS / f"{PS}.ipynb", course / "outbound" / PS)
    (course / "inbound").mkdir(mode=0o733)
    (course / "feedback").mkdir(mode=0o711)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "NBGRADER_EXCHANGE_ROOT": str(root),
           "COURSE_ID": "intro-dl"}
    return {"root": root, "course": course, "env": env, "tmp": tmp_path}


def submit_as(exchange: dict, hub_user: str, home: Path, *, student_config: bool = True) -> str:
    """``nbgrader submit`` from ``home`` as the hub user (one OS account: this one)."""
    work = home / PS
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "release" / PS / f"{PS}.ipynb", work)
    env = {**exchange["env"], "HOME": str(home), "JUPYTERHUB_USER": hub_user}
    flags = [f"--Exchange.root={exchange['root']}", "--CourseDirectory.course_id=intro-dl"]
    if student_config:
        env["JUPYTER_CONFIG_PATH"] = str(STUDENT_CONFIG)
        flags = []
    before = set(os.listdir(exchange["course"] / "inbound"))
    nbgrader("submit", PS, *flags, cwd=home, env=env)
    (new,) = set(os.listdir(exchange["course"] / "inbound")) - before
    return new


def test_the_student_id_is_the_hub_user_not_the_os_account(exchange):
    import getpass

    home = exchange["tmp"] / "home"
    # The trap: nbgrader names a submission after the OS account (get_username()), so
    # with a spawner that runs everyone as one account, every student submits as it.
    plain = submit_as(exchange, "ann", home, student_config=False)
    assert plain.split("+")[0] == getpass.getuser()
    # deploy/student/nbgrader_config.py takes the id from JUPYTERHUB_USER instead.
    assert submit_as(exchange, "ann", home).split("+")[:2] == ["ann", PS]


def test_the_course_directory_still_sees_every_student(exchange, tmp_path):
    # An instructor's server may have the students' configuration on its config path; the
    # course's nbgrader_config.py (loaded last, from the course directory) keeps "*".
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    code = ("from nbgrader.apps.collectapp import CollectApp; app = CollectApp(); "
            "app.initialize([]); print(app.coursedir.student_id)")
    env = {**exchange["env"], "JUPYTER_CONFIG_PATH": str(STUDENT_CONFIG), "JUPYTERHUB_USER": "prof",
           "HOME": str(tmp_path)}
    ran = lambda cwd: subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,  # noqa: E731
                                     capture_output=True, text=True, check=True).stdout.split()[-1]
    assert ran(tmp_path) == "prof"          # the trap, outside the course directory
    assert ran(course) == "*"


def test_generate_assignment_needs_alembic_on_path_and_the_hub_puts_it_there(tmp_path):
    code = "from nbgrader.api import Gradebook; Gradebook('sqlite:///' + 'gb.db').close()"
    bare = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PATH": "/nonexistent", "HOME": str(tmp_path)})
    assert bare.returncode != 0 and "alembic" in bare.stderr   # nbgrader runs it by name
    config = load_hub_config({})
    path = config.Spawner.environment["PATH"]
    assert (Path(path.split(os.pathsep)[0]) / "alembic").exists()
    fixed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True, env={"PATH": path, "HOME": str(tmp_path)})
    assert fixed.returncode == 0, fixed.stderr


def test_collect_warns_when_students_share_one_account(exchange, tmp_path):
    home = exchange["tmp"] / "shared-home"
    for student in ("ann", "ben"):
        submit_as(exchange, student, home)
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    out = nbgrader("collect", PS, cwd=course, env={**exchange["env"], "HOME": str(tmp_path)})
    log = out.stdout + out.stderr
    import getpass

    for student in ("ann", "ben"):
        assert f"claims to be submitted by {student} but is owned by {getpass.getuser()}" in log
    assert sorted(os.listdir(course / "submitted")) == ["ann", "ben"]


def release_feedback_for_every_cached_submission(exchange, home: Path):
    """What release_feedback writes: <hash>.html per submitted notebook (by its secret)."""
    from nbgrader.utils import notebook_hash

    cache = home / ".local" / "share" / "jupyter" / "nbgrader_cache" / "intro-dl"
    for entry in cache.iterdir():
        secret = (entry / "submission_secret.txt").read_text()
        html = exchange["course"] / "feedback" / f"{notebook_hash(secret=secret, notebook_id=PS)}.html"
        html.write_text(f"<h4>feedback for {entry.name.split('+')[0]}</h4>")


def fetched_feedback(exchange, hub_user: str, home: Path) -> list[str]:
    env = {**exchange["env"], "HOME": str(home), "JUPYTERHUB_USER": hub_user,
           "JUPYTER_CONFIG_PATH": str(STUDENT_CONFIG)}
    nbgrader("fetch_feedback", PS, cwd=home, env=env)
    return sorted(p.read_text() for p in (home / PS / "feedback").glob(f"*/{PS}.html"))


def test_fetch_feedback_hands_out_another_students_feedback_in_a_shared_home(exchange):
    shared = exchange["tmp"] / "shared"
    for student in ("ann", "ben"):
        submit_as(exchange, student, shared)
    release_feedback_for_every_cached_submission(exchange, shared)
    # The trap: the cache in the shared home holds both submissions, and fetch_feedback
    # looks up feedback for every cached one, whoever asks.
    assert fetched_feedback(exchange, "ann", shared) == ["<h4>feedback for ann</h4>",
                                                         "<h4>feedback for ben</h4>"]
    # A home of one's own (what the hub's spawners give each student) holds only one's own.
    own = exchange["tmp"] / "ann-home"
    submit_as(exchange, "ann", own)
    release_feedback_for_every_cached_submission(exchange, own)
    assert fetched_feedback(exchange, "ann", own) == ["<h4>feedback for ann</h4>"]


def load_hub_config(environ: dict[str, str]):
    """deploy/jupyterhub/jupyterhub_config.py as JupyterHub loads it (a traitlets Config)."""
    from traitlets.config import Config

    config = Config()
    saved = dict(os.environ)
    os.environ.update(environ)
    try:
        exec(compile(HUB_CONFIG.read_text(), str(HUB_CONFIG), "exec"),
             {"get_config": lambda: config, "__file__": str(HUB_CONFIG)})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return config


def test_the_hub_config_keeps_students_to_their_own_accounts_and_tools():
    config = load_hub_config({"COURSE_HUB_STUDENTS": "ann, ben", "COURSE_HUB_INSTRUCTORS": "prof",
                              "COURSE_HUB_IP": "127.0.0.1", "COURSE_HUB_PORT": "9100",
                              "COURSE_HUB_TEST_PASSWORD": "pw"})
    assert config.JupyterHub.spawner_class == "localprocess"   # each user's own OS account
    assert config.JupyterHub.bind_url == "http://127.0.0.1:9100"
    assert config.JupyterHub.hub_bind_url == "http://127.0.0.1:9101"
    assert config.Authenticator.allowed_users == {"ann", "ben", "prof"}
    assert config.Authenticator.admin_users == {"prof"}
    assert config.JupyterHub.authenticator_class == "dummy"
    assert load_hub_config({}).JupyterHub.authenticator_class != "dummy"   # PAM unless testing
    hook = config.Spawner.pre_spawn_hook
    for name, expected in (("ann", str(STUDENT_CONFIG)), ("prof", None)):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={"PATH": "/x"})
        hook(spawner)
        assert spawner.environment.get("JUPYTER_CONFIG_PATH") == expected


def test_the_hub_test_fails_in_ci_and_skips_elsewhere_when_something_is_missing(monkeypatch):
    import hubkit

    monkeypatch.setattr(hubkit, "CHROMIUM", "/nonexistent/chromium")
    assert any("chromium" in m for m in hubkit.missing_prerequisites())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI must run the hub test.*chromium"):
        hubkit.require()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"chromium.*tests/hub/prepare\.sh"):
        hubkit.require()
