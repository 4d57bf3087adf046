"""What the JupyterHub end-to-end test (test_hub.py) needs around it: real OS users, a hub
on 127.0.0.1, the browser, and the certainty that every process it started is stopped.

Why real users: with one OS account for every student, nbgrader's submission cache and
feedback are shared, which is the very trap the deployment must avoid; the test proves
that separate accounts keep students apart. Creating accounts needs root, which CI has.

Why never a silent skip in CI: a hub test that skips when chromium or the proxy is missing
looks green while proving nothing, so under ``CI=true`` every missing prerequisite fails
the test with what to install (``tests/hub/prepare.sh`` installs all of it).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

HUB_DIR = ROOT / "tests" / "hub"
NODE_BIN = HUB_DIR / "node_modules" / ".bin"
# The hub's environment (tests/hub/prepare.sh): students' servers, the hub and the
# instructor's commands run from it; it holds jupyterhub, nbgrader, alembic and torch but
# not the grader, which the instructor's commands find in this checkout (PYTHONPATH).
HUB_ENV = Path("/srv/dl-course-hub-test/venv")
BIN = HUB_ENV / "bin"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "out" / "hub-test" / "screenshots"   # git-ignored (/out/)


def missing_prerequisites() -> list[str]:
    """Everything the hub test needs that this machine lacks, in words."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the test creates one OS user per student)")
    for tool in ("useradd", "userdel", "setpriv", "node"):
        if shutil.which(tool) is None:
            missing.append(f"the `{tool}` command")
    if not os.path.exists(CHROMIUM):
        missing.append("Debian's chromium (apt-get install chromium)")
    for package in ("playwright-core", "configurable-http-proxy"):
        if not (HUB_DIR / "node_modules" / package).is_dir():
            missing.append(f"npm's {package} (npm ci in tests/hub)")
    if not (BIN / "jupyterhub").exists():
        missing.append(f"the hub environment {HUB_ENV} with jupyterhub")
    for folder in (ROOT, BIN):
        if not _others_can_enter(folder):
            missing.append(f"{folder} readable by other accounts (students and the instructor "
                           "run from it): clone the course where every folder above it is "
                           "world-executable, e.g. under /srv or /tmp")
    return missing


def _others_can_enter(folder: Path) -> bool:
    return all(os.stat(part).st_mode & 1 for part in [folder, *folder.parents])


def require():
    """Fail under CI, skip elsewhere, naming what is missing."""
    missing = missing_prerequisites()
    if not missing:
        return
    why = ("the JupyterHub end-to-end test cannot run here; missing: " + "; ".join(missing)
           + ". Run `bash tests/hub/prepare.sh` (as root) to install what it needs.")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI must run the hub test: " + why)
    pytest.skip(why)


class Users:
    """OS accounts made for one test run, and removed with every process they still run."""

    def __init__(self):
        self.names: list[str] = []

    def add(self, name: str, home: Path) -> pwd.struct_passwd:
        self.remove_one(name)   # a crashed earlier run may have left it
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell",
                        "/bin/bash", "--user-group", name], check=True, capture_output=True)
        self.names.append(name)
        home.mkdir(parents=True, exist_ok=True)
        entry = pwd.getpwnam(name)
        chown_tree(home, entry)
        home.chmod(0o700)       # nobody else reads a student's work or feedback cache
        return entry

    def remove_one(self, name: str):
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            return
        kill_processes_of(uid)
        subprocess.run(["userdel", name], capture_output=True)

    def remove_all(self):
        for name in reversed(self.names):
            self.remove_one(name)
        self.names.clear()


def chown_tree(path: Path, user: pwd.struct_passwd):
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, user.pw_uid, user.pw_gid)


def kill_processes_of(uid: int):
    """SIGKILL every process owned by ``uid`` (only ever a uid this test created)."""
    for _ in range(20):
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _owner(p) == uid]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def as_user(user: pwd.struct_passwd, argv: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``argv`` as ``user`` (no root left: setpriv drops uid, gid and groups)."""
    drop = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    env = {**env, "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name}
    return subprocess.run([*drop, *argv], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def free_ports(count: int = 3) -> int:
    """A port p such that p .. p+count-1 are free on 127.0.0.1 now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count > 65535:
            continue
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no three free ports in a row on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Hub:
    """A JupyterHub process group started for the test; ``stop`` ends all of it."""

    def __init__(self, env: dict[str, str], state: Path, port: int):
        self.state, self.port, self.url = state, port, f"http://127.0.0.1:{port}"
        self.log = state / "jupyterhub.log"
        self.proc = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py")],
            env=env, cwd=state, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, timeout: float = 180):
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=5) as r:
                    if json.load(r).get("version"):
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyterhub did not answer in {timeout} s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self):
        """SIGTERM (the hub stops its servers and proxy), then SIGKILL what is left."""
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
        pid_file = self.state / "proxy.pid"     # the proxy runs in a session of its own
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.killpg(int(pid_file.read_text().strip()), signal.SIGKILL)


def browse(plan: dict, timeout: float = 900) -> dict:
    """Run tests/hub/browser.js with ``plan``; its JSON result (it fails with the log)."""
    proc = subprocess.Popen(["node", str(HUB_DIR / "browser.js"), json.dumps(plan)],
                            cwd=HUB_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"ok": False, "error": err[-3000:]}
    assert result.get("ok"), f"browser step {plan['steps']} as {plan['user']} failed: " \
                             f"{result.get('error')}\nstderr: {err[-2000:]}"
    return result
