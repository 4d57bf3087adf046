"""Issue 13: workers forked from a pre-imported parent (``sandbox.prefork``, ``zygote.py``).

A forked worker must be indistinguishable, from inside, from one bubblewrap started from
scratch (the parity test compares everything a student's code can look at), nothing one
forked worker does may reach the parent or the next worker, and the host's view (fence,
CPU clock, memory cap, exit status) must hold as before. Where the parent cannot help,
workers start from scratch and grading goes on.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import pytest

from grader.sandbox import fence, isolation, prefork
from grader.sandbox.client import Worker, WorkerDied, WorkerFault
from grader.sandbox.limits import Limits

pytestmark = pytest.mark.skipif(not isolation.available(), reason=f"no sandbox: {isolation.probe()}")

FINGERPRINT = r'''
import ctypes, os, resource, socket
def fingerprint():
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    mounts = sorted((line.split()[4], line.split()[5].split(",")[0])
                    for line in open("/proc/self/mountinfo"))
    libc = ctypes.CDLL(None, use_errno=True)
    userns = libc.unshare(0x10000000)
    return {
        "status": {k: status[k].strip() for k in ("Uid", "Gid", "Groups", "CapInh", "CapPrm",
                   "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")},
        "mounts": mounts,
        "others": sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()),
        "rlimits": {n: resource.getrlimit(getattr(resource, n)) for n in (
            "RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE")},
        "env": dict(os.environ), "cwd": os.getcwd(), "hostname": socket.gethostname(),
        "tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm")),
        "fds": len(os.listdir("/proc/self/fd")),
        "same_ns_as_init": {n: os.readlink(f"/proc/self/ns/{n}") == os.readlink(f"/proc/1/ns/{n}")
                            for n in ("mnt", "pid", "net", "ipc", "uts", "user")},
        "new_user_namespace": (userns, ctypes.get_errno()),
        "oom_score_adj": open("/proc/self/oom_score_adj").read().strip(),
        "course_visible": os.path.exists(COURSE),
        "interfaces": sorted(line.split(":")[0].strip() for line in open("/proc/net/dev")
                             if ":" in line),
    }
'''


def _fingerprint(limits: Limits) -> tuple[bool, dict]:
    with Worker(limits) as w:
        course = os.path.join(isolation.PACKAGE_ROOT, "grader")
        assert w.exec_cells([f"COURSE = {course!r}\n" + FINGERPRINT])[0]["ok"]
        return w.forked, w.call({"name": "fingerprint"})


def test_a_forked_worker_sees_exactly_what_a_worker_started_from_scratch_sees(warm):
    forked, mine = _fingerprint(Limits(call_timeout_s=30))
    scratch, theirs = _fingerprint(Limits(call_timeout_s=30, prefork=False))
    assert forked and not scratch
    # What differs: its pid (3: the holder is 2) and, so that nothing of it shares a process
    # group with its parent outside, a session of its own.
    assert mine["others"] == [1, 2] and theirs["others"] == [1]   # init, the holder
    mine.pop("others"), theirs.pop("others")
    assert mine == theirs
    assert mine["status"]["CapEff"] == mine["status"]["CapBnd"] == "0000000000000000"
    assert mine["status"]["NoNewPrivs"] == "1" and mine["new_user_namespace"][0] == -1
    assert not mine["course_visible"]


def test_a_forked_worker_starts_in_a_fraction_of_the_time(warm):
    """The whole point: no interpreter start and no ``import torch`` per worker."""
    def start(limits: Limits) -> tuple[bool, float]:
        t0 = time.perf_counter()
        with Worker(limits) as w:
            w.ping()
            return w.forked, time.perf_counter() - t0

    start(Limits(call_timeout_s=30))                    # the parent is warm from here on
    forked = [start(Limits(call_timeout_s=30)) for _ in range(3)]
    scratch = [start(Limits(call_timeout_s=30, prefork=False)) for _ in range(3)]
    assert all(f for f, _ in forked) and not any(f for f, _ in scratch)
    assert min(s for _, s in forked) * 3 < min(s for _, s in scratch), (forked, scratch)


PLANT = r'''
import os, subprocess, sys, torch
open("/tmp/planted", "w").write("x")
open("/dev/shm/planted", "w").write("x")
torch.planted = True
sys.modules["worker"].PLANTED = True
subprocess.Popen([sys.executable, "-c", "import os, time\nos.setsid()\nwhile True: time.sleep(0.05)"],
                 start_new_session=True)
'''
CHECK = r'''
import os, sys, torch
def leftovers():
    return {"files": [p for p in ("/tmp/planted", "/dev/shm/planted") if os.path.exists(p)],
            "torch": hasattr(torch, "planted"), "worker": hasattr(sys.modules["worker"], "PLANTED"),
            "others": sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid())}
'''


def test_nothing_one_forked_worker_does_reaches_the_parent_or_the_next_worker(warm):
    limits = Limits(call_timeout_s=30)
    with Worker(limits) as a:
        assert a.forked and a.exec_cells([PLANT])[0]["ok"]
        parent = prefork.parent_for(limits, sys.executable)
        # Signal everything it can: its own sandbox ends, nothing else.
        with pytest.raises(WorkerFault):
            a.exec_cells(["import os, signal\nos.kill(-1, signal.SIGKILL)\nimport time; time.sleep(30)"],
                         timeout=20)
    assert parent is not None and parent.alive
    with Worker(limits) as b:
        assert b.forked and b.exec_cells([CHECK])[0]["ok"]
        assert b.call({"name": "leftovers"}) == {"files": [], "torch": False, "worker": False,
                                                 "others": [1, 2]}


def test_the_host_still_fences_counts_and_caps_a_forked_worker(warm):
    """Strays end after each call, a frozen worker does no work, the CPU clock counts the
    joined worker's processes, a budget stops it, the memory cap holds it."""
    limits = Limits(call_timeout_s=30, max_processes=64)
    code = ("import os, subprocess, sys, threading, time\n"
            "def stray():\n"
            "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
            "    return 1\n"
            "def burn(seconds):\n"
            "    end = time.process_time() + seconds\n"
            "    while time.process_time() < end:\n"
            "        pass\n"
            "    return 1\n"
            "def bomb():\n"
            "    n = 0\n"
            "    try:\n"
            "        while True:\n"
            "            if os.fork() == 0:\n"
            "                time.sleep(20); os._exit(0)\n"
            "            n += 1\n"
            "    except OSError:\n"
            "        return n\n")
    from grader.faults import OverBudget

    with Worker(limits) as w:
        assert w.forked and w.exec_cells([code])[0]["ok"]
        assert w.call({"name": "stray"}) == 1
        assert w.strays_ended == 1         # killed by the host (a zombie until reaped)
        before = w.cpu_seconds()
        w.call({"name": "burn"}, (0.6,))
        assert w.cpu_seconds() - before >= 0.5
        assert 0 < w.call({"name": "bomb"}) < 64
        if w.memory_cap is not None:
            with open(f"/proc/{fence.worker_pid(w.tree)}/cgroup") as f:
                assert os.path.basename(w.memory_cap.path) in f.read()
        with pytest.raises(OverBudget):
            w.call({"name": "burn"}, (30.0,), cpu_budget=1.0)


@pytest.mark.parametrize("how, message", [("os._exit(3)", "exited with status 3"),
                                          ("os.kill(os.getpid(), 11)", "killed by SIGSEGV")])
def test_a_forked_worker_dies_the_way_a_worker_from_scratch_does(warm, how, message):
    """The holder ends as the worker did, so bubblewrap reports the same status."""
    messages = []
    for forked in (True, False):
        with Worker(Limits(call_timeout_s=30, prefork=forked)) as w:
            assert w.forked == forked
            w.exec_cells(["import os"])
            with pytest.raises(WorkerDied, match=message) as info:
                w.exec_cells([how])
            messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_without_a_parent_workers_start_from_scratch_and_a_new_parent_takes_over(warm):
    limits = Limits(call_timeout_s=30)
    with Worker(limits) as w:
        assert w.forked
        parent = prefork.parent_for(limits, sys.executable)
    os.killpg(parent.proc.pid, 9)
    parent.proc.wait()
    prefork.WAIT = False
    with Worker(limits) as w:               # the parent is gone: this one starts from scratch
        assert w.ping() is not None and not w.forked
    prefork.parent_for(limits, sys.executable, wait=True)
    prefork.WAIT = True
    with Worker(limits) as w:
        assert w.forked and w.exec_cells(["x = 1"])[0]["ok"]


CLONE_PARENT = r'''
import ctypes, os, sys, time
libc = ctypes.PyDLL(None)            # keeps the GIL across the call
libc.syscall.restype = ctypes.c_long
def sibling():
    """A process whose parent is the worker's parent (outside the sandbox), spinning."""
    pid = libc.syscall(56, ctypes.c_ulong(0x8000 | 17), ctypes.c_void_p(0), ctypes.c_void_p(0),
                       ctypes.c_void_p(0), ctypes.c_ulong(0))
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", "while True: pass"])
    return pid
def swap():
    """Stop the holder, hand the pipes to a CLONE_PARENT copy, and end the real worker."""
    import signal
    os.kill(2, signal.SIGSTOP)
    pid = libc.syscall(56, ctypes.c_ulong(0x8000 | 17), ctypes.c_void_p(0), ctypes.c_void_p(0),
                       ctypes.c_void_p(0), ctypes.c_ulong(0))
    if pid != 0:
        os._exit(0)
    return "the copy answers"
'''


def test_a_process_made_with_clone_parent_is_still_fenced(warm):
    """Red team: clone(CLONE_PARENT) makes the worker's parent, outside the sandbox, its
    parent. That parent is a root of the fence's tree: the sibling is ended like any stray."""
    with Worker(Limits(call_timeout_s=30)) as w:
        assert w.forked and w.exec_cells([CLONE_PARENT])[0]["ok"]
        assert w.call({"name": "sibling"}) > 3
        assert w.strays_ended == 1
        before = w.cpu_seconds()
        time.sleep(1.0)
        assert w.cpu_seconds() - before < 0.1, "nothing of the sandbox runs between calls"


def test_a_copy_that_answers_for_a_dead_worker_is_caught_at_once(warm):
    """Red team: the copy would have the pipes, the holder is stopped so the sandbox lives
    on. The copy is a stray, ended once it has answered, and the host sees that the worker
    it knows (by pidfd, never by a reusable pid) ended: no later call is answered."""
    with Worker(Limits(call_timeout_s=30)) as w:
        assert w.forked and w.exec_cells([CLONE_PARENT])[0]["ok"]
        with contextlib.suppress(WorkerFault):    # the copy's one answer may get through
            w.call({"name": "swap"})
        with pytest.raises(WorkerFault):
            w.call({"name": "sibling"})
        assert not w.alive


def test_forked_workers_do_not_share_random_state(warm):
    """Red team: the parent's numpy and torch generators would otherwise be every worker's."""
    cell = ("import random, numpy, torch\n"
            "def draws():\n"
            "    return [numpy.random.rand(), torch.rand(1).item(), random.random()]\n")
    seen = []
    for _ in range(2):
        with Worker(Limits(call_timeout_s=30)) as w:
            assert w.forked and w.exec_cells([cell])[0]["ok"]
            seen.append(w.call({"name": "draws"}))
    assert all(a != b for a, b in zip(*seen, strict=True)), seen


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "scratch"])
def test_the_sandbox_own_processes_are_frozen_between_calls_and_may_not_be_traced(warm, forked):
    """Red team: whoever traces bubblewrap's init or the holder can make it run code the
    fence would not stop. Between calls every process of the sandbox is stopped ('T'), or
    frozen ('D') where its freezer cgroup holds it too, and a worker that traces one of them
    is ended with a protocol violation."""
    from grader.faults import ProtocolViolation

    trace = ("import ctypes\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "def attach(pid):\n"
             "    return libc.ptrace(16, pid, None, None)\n")
    with Worker(Limits(call_timeout_s=30, prefork=forked)) as w:
        assert w.forked == forked and w.exec_cells([trace])[0]["ok"]
        own = fence.kept(w.tree)
        assert len(own) == (3 if forked else 2)
        def state(pid: int) -> str:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0]

        held = "D" if w.freezer is not None else "T"
        for _ in range(50):                 # SIGSTOP takes effect a moment after it is sent
            if all(state(pid) == held for pid in own):
                break
            time.sleep(0.02)
        assert [state(pid) for pid in own] == [held] * len(own)
        with pytest.raises(ProtocolViolation, match="ptrace"):
            w.call({"name": "attach"}, (1,))
        assert not w.alive


def test_a_forked_worker_cannot_signal_its_parent_outside(warm):
    """Red team (round 2): in its parent's process group, kill(0, ...) reached that parent
    outside the PID namespace and took the worker out of the fence. Its own session now;
    and were that parent ever gone while the worker lives, the worker is stopped."""
    cell = ("import os, signal\n"
            "def group():\n"
            "    return os.getpgid(0) == os.getpid() == os.getsid(0)\n"
            "def kill_group():\n"
            "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "    os.kill(0, signal.SIGTERM)\n"
            "    return 1\n")
    with Worker(Limits(call_timeout_s=30)) as w:
        assert w.forked and w.exec_cells([cell])[0]["ok"]
        assert w.call({"name": "group"}) is True
        assert w.call({"name": "kill_group"}) == 1
        assert w.exec_cells(["x = 1"])[0]["ok"]        # the fence still holds the worker
        between = w.tree.between
        os.kill(between, 9)                               # as if the worker had reached it
        for _ in range(100):                              # a process with torch mapped takes
            if not os.path.exists(f"/proc/{between}"):    # a moment to end
                break
            time.sleep(0.05)
        with pytest.raises(WorkerFault):
            w.exec_cells(["y = 2"])
        assert not w.alive


# Red team (round 3): run one syscall in another process of the sandbox through ptrace
# (x86_64 registers), attaching and detaching within one call.
INJECT = r'''
import ctypes, os, struct
_l = ctypes.CDLL(None, use_errno=True)
_l.ptrace.restype = ctypes.c_long
_l.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
def inject(pid, nr, *args):
    if _l.ptrace(16, pid, None, None) != 0: raise OSError(ctypes.get_errno(), "attach")
    os.waitpid(pid, 0x40000000)   # __WALL
    regs = (ctypes.c_ulonglong * 27)(); _l.ptrace(12, pid, None, ctypes.byref(regs))
    saved = (ctypes.c_ulonglong * 27)(*regs)
    rip = regs[16]
    word = _l.ptrace(1, pid, ctypes.c_void_p(rip - 2), None) & 0xffff
    gadget = rip - 2
    if word != 0x050f: raise OSError(0, "no syscall gadget at rip-2: %x" % word)
    regs[10] = nr; regs[15] = (1 << 64) - 1; regs[16] = gadget
    a = list(args) + [0] * 6
    regs[14], regs[13], regs[12], regs[7], regs[9], regs[8] = [x & ((1<<64)-1) for x in a[:6]]  # rdi rsi rdx r10 r8 r9
    _l.ptrace(13, pid, None, ctypes.byref(regs))
    _l.ptrace(9, pid, None, None); os.waitpid(pid, 0x40000000)   # SINGLESTEP
    _l.ptrace(12, pid, None, ctypes.byref(regs)); res = ctypes.c_longlong(regs[10]).value
    _l.ptrace(13, pid, None, ctypes.byref(saved))
    _l.ptrace(17, pid, None, None)   # DETACH
    return res
'''


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the injection helper is x86_64 code")
@pytest.mark.parametrize("forked", [True, False], ids=["forked", "scratch"])
def test_nothing_of_a_sandbox_outlives_close_even_if_init_would_not_die_with_bubblewrap(warm, forked):
    """Red team (round 3): a worker cleared its init's die-with-parent signal with ptrace,
    so killing bubblewrap's process group left the PID namespace, and a spinning process in
    it, running after ``close()``. The host now SIGKILLs init (and the namespace with it)."""
    spin = ("import subprocess, sys\n"
            "def leave():\n"
            "    assert inject(1, 157, 1, 0) == 0      # prctl(PR_SET_PDEATHSIG, 0) in init\n"
            "    subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True)\n"
            "    return 1\n")
    with Worker(Limits(call_timeout_s=30, prefork=forked)) as w:
        assert w.forked == forked and w.exec_cells([INJECT + spin])[0]["ok"]
        w.call({"name": "leave"})
        own = fence.kept(w.tree)          # init, (the holder,) the worker
        assert len(own) == (3 if forked else 2)
    for _ in range(100):
        if all(fence._ended(pid) for pid in own):
            break
        time.sleep(0.05)
    assert [pid for pid in own if not fence._ended(pid)] == []


def _uid(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "scratch"])
def test_a_stray_that_keeps_moving_to_a_new_pid_is_ended_too(warm, forked):
    """Red team (round 3): a process that forks and exits over and over was a new pid after
    each sweep of the fence; the fence sweeps again until nothing is left."""
    hop = ("import subprocess, sys, time\n"
           "subprocess.Popen([sys.executable, '-c', 'import os\\nwhile True:\\n"
           "    if os.fork():\\n        os._exit(0)'])\n"
           "time.sleep(0.5)\n")
    with Worker(Limits(call_timeout_s=30, prefork=forked)) as w:
        assert w.forked == forked and w.exec_cells([hop])[0]["ok"]
        assert w.strays_ended >= 1
        for _ in range(4):
            time.sleep(0.5)
            assert fence.strays(w.tree) == []
            assert w.exec_cells(["x = 1"])[0]["ok"]
