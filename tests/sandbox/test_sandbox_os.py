"""Issue 9: the OS sandbox around a worker, its limits, fences and the trusted side's checks.

(The data-only wire and the worker's plain behaviour are in test_sandbox.py, attacks on the
protocol in test_protocol.py; a batch of attacks mixed with honest submissions is in
test_sandbox_attacks.py.)
"""

from __future__ import annotations

import json
import os
import sys

import nbformat
import pytest
from conftest import ROOT, settings_for

from grader.sandbox import fence, isolation
from grader.sandbox.client import Worker, WorkerDied
from grader.sandbox.limits import Limits

needs_sandbox = pytest.mark.skipif(not isolation.available(), reason=f"no sandbox: {isolation.probe()}")


@needs_sandbox
def test_sandboxed_worker_is_unprivileged_alone_and_read_only():
    with Worker(Limits(call_timeout_s=20)) as w:
        assert w.sandboxed
        runs = w.exec_cells([
            "import os, sys\n"
            "uid = os.getuid()\n"
            "caps = int([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1], 16)\n"
            "pids = max(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "try:\n    open(os.path.join(sys.prefix, 'planted.py'), 'w')\n    ro = 0\n"
            "except OSError:\n    ro = 1\n"
            "same = int(os.getcwd() == os.path.expanduser('~') == os.environ['TMPDIR'] == '/tmp')",
        ])
        assert runs[0]["ok"], runs[0]
        value = lambda name: w.call({"name": name, "attr": "__int__"})  # noqa: E731
        assert value("uid") == isolation.SANDBOX_UID
        assert value("caps") == 0
        assert value("pids") < 20  # only the worker's own processes, numbered from 1
        assert value("ro") == 1 and value("same") == 1
    assert not (ROOT / ".venv" / "planted.py").exists()


@needs_sandbox
def test_only_allowlisted_paths_exist_inside():
    with Worker(Limits(call_timeout_s=20)) as w:
        probes = [str(ROOT / "source"), str(ROOT / "grader"), str(ROOT / "nbgrader_config.py"),
                  str(ROOT / "data"), "/root/.bashrc", "/etc/passwd", "/var", "/home"]
        w.exec_cells([f"import os\nseen = [p for p in {probes!r} if os.path.exists(p)]"])
        assert w.call({"name": "seen", "attr": "copy"}) == []


@needs_sandbox
def test_no_process_of_the_worker_outlives_it():
    marker = f"outlive-{os.getpid()}"
    with Worker(Limits(call_timeout_s=20)) as w:
        w.exec_cells([f"import subprocess\nsubprocess.Popen(['/bin/sh', '-c', 'sleep 300; echo {marker}'], "
                      "start_new_session=True)"])
    import time

    time.sleep(0.5)
    alive = [p for p in os.listdir("/proc") if p.isdigit()
             and marker.encode() in _cmdline(p)]
    assert alive == []


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@needs_sandbox
def test_fork_bomb_stops_at_the_process_cap():
    with Worker(Limits(call_timeout_s=20, max_processes=64)) as w:
        runs = w.exec_cells(["import os, time\nn = 0\ntry:\n    while True:\n"
                             "        if os.fork() == 0:\n            time.sleep(20); os._exit(0)\n"
                             "        n += 1\nexcept OSError:\n    pass"])
        assert runs[0]["ok"], runs[0]
        assert 0 < w.call({"name": "n", "attr": "__int__"}) < 64


def test_sandbox_refuses_to_bind_a_folder_that_holds_the_course(tmp_path):
    (tmp_path / "env" / "course").mkdir(parents=True)
    limits = Limits(private_paths=(str(tmp_path / "env" / "course"),),
                    extra_ro_paths=(str(tmp_path / "env"),))
    with pytest.raises(isolation.SandboxUnavailable, match=r"refusing to bind .*env into"):
        isolation.read_only_sources(limits, sys.executable)
    (tmp_path / "env" / "course" / "sub").mkdir()
    inside = Limits(private_paths=(str(tmp_path / "env" / "course"),),
                    extra_ro_paths=(str(tmp_path / "env" / "course" / "sub"),))
    with pytest.raises(isolation.SandboxUnavailable, match="part of the grader"):
        isolation.read_only_sources(inside, sys.executable)


def test_autograde_refuses_without_the_sandbox_and_grade_says_so(tmp_path, monkeypatch, capsys):
    from grader.autograde import main as autograde
    from grader.course import Course
    from grader.grade import main as grade
    from grader.samples import build_submission

    monkeypatch.setattr(isolation, "probe", lambda: "bubblewrap (bwrap) is not installed: install it")
    assert autograde(assignment="ps1_tensors", settings=settings_for(Course(tmp_path)), progress=False) == 2
    assert "refusing to grade without the worker sandbox" in capsys.readouterr().err
    path = tmp_path / "ps1.ipynb"
    nbformat.write(build_submission("ps1_tensors"), path)
    out = tmp_path / "r.json"
    assert grade(path=path, assignment="ps1_tensors", json_out=out, device="cpu") == 0
    captured = capsys.readouterr()
    assert "WITHOUT the sandbox" in captured.err and "WITHOUT the worker sandbox" in captured.out
    data = json.loads(out.read_text())
    assert data["extra_data"]["sandboxed"] is False and "WITHOUT" in data["output"]


@needs_sandbox
@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_keeps_what_was_recorded(tmp_path):
    """The grader dies hard mid-batch: its workers die with it, a rerun grades the rest."""
    import signal
    import subprocess
    import time

    from conftest import make_course

    from grader.course import Course
    from grader.samples import build_submission, write_submission

    root = make_course(tmp_path / "course", ["ps1_tensors"])
    for i in range(4):
        write_submission(build_submission("ps1_tensors"), root, f"s{i}", "ps1_tensors")
    results = Course(root).results_dir("ps1_tensors")
    env = {**os.environ, "GRADER_COURSE_ROOT": str(root)}
    cmd = [sys.executable, "-m", "grader", "autograde", "ps1_tensors", "--jobs", "1", "--no-feedback"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    workers: set[int] = set()
    while len(list(results.glob("*.json"))) < 1 and time.monotonic() < deadline:
        workers |= fence._below(proc.pid)
        time.sleep(0.1)
    workers |= fence._below(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 1 <= len(first) < 4
    assert workers, "no worker was seen running"
    # Dying takes the kernel a moment (a frozen worker is woken by its SIGKILL first).
    for _ in range(50):
        alive = [p for p in workers if _cmdline(str(p))]
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, f"a worker outlived the killed grader: {[_cmdline(str(p))[:80] for p in alive]}"
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert set(after) == {f"s{i}.json" for i in range(4)}
    assert all(after[name] == first[name] for name in first), "a recorded result was regraded"


def test_memory_cgroup_caps_the_workers_processes_together():
    from grader.sandbox.cgroup import MemoryCap

    probe = MemoryCap.create(256 * 1024**2)
    if probe is None:
        pytest.skip("this machine gives the grader no memory cgroup")
    probe.remove()
    # Three processes of 700 MB each stay under their address-space limit apiece, but not
    # under 1.5 GB for the worker as a whole.
    limits = Limits(call_timeout_s=30, host_memory_bytes=1536 * 1024**2)
    with Worker(limits) as w:
        assert w.memory_cap is not None
        w.exec_cells(["import os, time\n"
                      "def hog():\n"
                      "    kids = []\n"
                      "    for _ in range(3):\n"
                      "        pid = os.fork()\n"
                      "        if pid == 0:\n"
                      "            b = bytearray(700 * 1024**2)\n"
                      "            for i in range(0, len(b), 4096): b[i] = 1\n"
                      "            time.sleep(5); os._exit(0)\n"
                      "        kids.append(pid)\n"
                      "    return [os.waitpid(k, 0)[1] for k in kids]"])
        # The kernel's OOM killer picks its victim inside the cgroup: usually a hog, but on
        # a loaded machine (seen once in CI) the worker itself. Either way the three
        # processes were capped together, and the death is reported as memory, by name.
        try:
            statuses = w.call({"name": "hog"})
        except WorkerDied as exc:
            assert "memory" in str(exc), exc
        else:
            assert any(os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9 for s in statuses), statuses
        assert w.memory_cap.oom_killed()
        path = w.memory_cap.path
    assert not os.path.exists(path)  # removed with the worker


@needs_sandbox
def test_the_unprivileged_command_line_works_as_well(monkeypatch):
    # A JupyterHub instructor or a CI runner is no root: bubblewrap then binds the paths
    # directly, without the staging mount or setpriv. The same worker must start that way.
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    with Worker(Limits(call_timeout_s=20)) as w:
        assert w.proc.args[0].endswith("bwrap")
        runs = w.exec_cells([f"import os\nuid = os.getuid()\nseen = os.path.exists({str(ROOT / 'source')!r})"])
        assert runs[0]["ok"], runs[0]
        assert w.call({"name": "uid", "attr": "__int__"}) == isolation.SANDBOX_UID
        assert w.call({"name": "seen", "attr": "__int__"}) == 0


@needs_sandbox
def test_a_grader_found_through_pythonpath_stays_outside_the_worker(monkeypatch):
    # On JupyterHub the shared environment holds no grader: the instructor's commands find
    # it in the course checkout through PYTHONPATH (deploy/jupyterhub/README.md,
    # tests/test_hub.py). The worker inherits PYTHONPATH minus the checkout, so it can
    # neither import the hidden tests nor see their files.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    with Worker(Limits(call_timeout_s=20)) as w:
        runs = w.exec_cells([
            "import importlib.util, os, sys\n"
            "found = int(importlib.util.find_spec('grader') is not None)\n"
            f"seen = int(os.path.exists({str(ROOT / 'grader' / 'hidden')!r}))\n"
            "entries = sys.path + os.environ.get('PYTHONPATH', '').split(os.pathsep)\n"
            f"named = int({str(ROOT)!r} in [os.path.realpath(p) for p in entries if p])"])
        assert runs[0]["ok"], runs[0]
        for name in ("found", "seen", "named"):
            assert w.call({"name": name, "attr": "__int__"}) == 0, name


def test_a_submission_that_sleeps_just_under_every_timeout_is_capped_as_a_whole(tmp_path):
    """Every call sleeps just under the call timeout: the submission's own cap ends it."""
    import time

    from grader import config
    from grader.grade.runner import grade_notebook
    from grader.samples import build_submission

    sleepy = "import time\n" + "".join(
        f"def {name}(*a, **k):\n    time.sleep(2.5)\n"
        for name in ("rank_and_shape", "take_columns", "broadcast_shape", "pairwise_sq_dists",
                     "mul_and_matmul", "reduce_along", "to_batches", "one_hot"))
    path = tmp_path / "sleepy.ipynb"
    nbformat.write(build_submission("ps1_tensors", answers="blank", replace={"rank_and_shape": sleepy}), path)
    profile = config.PROFILES["cpu"].with_limits(call_timeout_s=3.0, submission_timeout_s=15.0)
    start = time.monotonic()
    result = grade_notebook(path, "ps1_tensors", profile=profile, sandbox=isolation.available())
    assert time.monotonic() - start < 45
    assert result.score == 0
    assert any("used up its 15 s of grading time" in t.output for t in result.tests)


@needs_sandbox
def test_the_sandbox_root_and_dev_are_read_only():
    with Worker(Limits(call_timeout_s=10)) as w:
        w.exec_cells(["import os\nbad = []\nfor p in ('/x', '/dev/x', '/work/x', '/root/x'):\n"
                      "    try:\n        open(p, 'w').write('1'); bad.append(p)\n    except OSError:\n        pass"])
        assert w.call({"name": "bad", "attr": "copy"}) == []


@needs_sandbox
@pytest.mark.skipif(os.geteuid() != 0, reason="host uids are chosen only when the grader is root")
def test_live_workers_never_share_a_host_uid():
    with Worker(Limits(call_timeout_s=10)) as a, Worker(Limits(call_timeout_s=10)) as b:
        a.ping(), b.ping()
        assert a.host_uid is not None and b.host_uid is not None and a.host_uid != b.host_uid
        assert a.host_uid >= Limits().host_uid
    # Nor do the workers of two graders on one machine. A range of uids no other test
    # uses: xdist's other processes start workers from the default range at any moment,
    # and one of them taking the freed uid first would look like a leak.
    import subprocess
    import time

    private = "Limits(host_uid=900_000, host_uids=4)"
    holder = subprocess.Popen([sys.executable, "-c",
                               "from grader.sandbox.isolation import HostUids\n"
                               "from grader.sandbox.limits import Limits\n"
                               f"import time\nprint(HostUids.acquire({private}), flush=True)\ntime.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    limits = Limits(host_uid=900_000, host_uids=4)
    try:
        theirs = int(holder.stdout.readline())
        ours = isolation.HostUids.acquire(limits)
        isolation.HostUids.release(ours)
        assert ours != theirs
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    again = isolation.HostUids.acquire(limits)   # a dead grader's uid is free again
    isolation.HostUids.release(again)
    assert again == theirs == 900_000


@needs_sandbox
@pytest.mark.parametrize("children_files", [True, False], ids=["children-files", "proc-scan"])
def test_processes_a_call_starts_end_when_it_returns(children_files, monkeypatch):
    """Spec §5: work a student call starts does not outlive that call (processes here)."""
    import time

    if not children_files:  # kernels without /proc/<pid>/task/<tid>/children
        monkeypatch.setattr(fence, "_children", lambda pid: None)

    marker = f"fence-{os.getpid()}"
    with Worker(Limits(call_timeout_s=20)) as w:
        w.exec_cells(["import os, subprocess, time\n"
                      "def spawn():\n"
                      f"    subprocess.Popen(['/bin/sh', '-c', 'while :; do :; done; echo {marker}'])\n"
                      "    if os.fork() == 0:\n"
                      "        os.setsid()\n"
                      "        if os.fork() == 0:\n"
                      f"            os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 300; echo {marker}'])\n"
                      "        os._exit(0)\n"
                      "    time.sleep(0.3)\n"
                      "    return 1"])
        assert w.call({"name": "spawn"}) == 1
        time.sleep(0.3)
        alive = [p for p in os.listdir("/proc") if p.isdigit() and marker.encode() in _cmdline(p)]
        assert alive == [] and w.alive and w.strays_ended >= 2
        # the worker itself is untouched (pid 2 from scratch, 3 when forked: the holder is 2)
        assert w.call({"name": "os", "attr": "getpid"}) == (3 if w.forked else 2)


def test_a_result_says_when_host_memory_was_not_capped(tmp_path):
    from grader import config
    from grader.grade.runner import grade_notebook
    from grader.samples import build_submission

    path = tmp_path / "blank.ipynb"
    nbformat.write(build_submission("ps1_tensors", answers="blank"), path)
    uncapped = config.PROFILES["cpu"].with_limits(memory_bytes=None, host_memory_bytes=None)
    result = grade_notebook(path, "ps1_tensors", profile=uncapped, sandbox=isolation.available())
    assert result.host_memory_capped is False
    assert any("host memory was not capped" in n for n in result.notes)
