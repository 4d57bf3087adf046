"""The pre-imported parent of sandboxed workers (runs on the host, never runs student code).

Why: a worker spends 1.5-2 s of CPU importing torch (and IPython, and torch._dynamo on an
optimizer's first step) before it answers anything; at class scale that is most of a
small submission. This process pays it once and forks a worker per submission.

How each forked worker gets the sandbox a fresh one would have: the trusted side first
starts bubblewrap exactly as for any worker (``isolation.command``: new user, mount, PID,
net, IPC, UTS and cgroup namespaces, its own tmpfs and /proc, no capabilities, no further
user namespaces), with a tiny holder program instead of the worker. It passes the
holder's namespace files here. A child of this process (running only this file's code)
then joins them with ``setns`` -- the user namespace's parent first, which owns the
others, then the sandbox's own user namespace last -- drops every capability and sets
``no_new_privs``, exactly as bubblewrap does, and forks the worker *inside* the new PID
namespace. From there on the worker sees what a bubblewrap-started one sees: its tmpfs,
its /proc (bubblewrap's init, the holder, itself), the read-only binds and nothing else.

A root grader's parent runs as root; each child becomes the worker's host account
(``setresuid``, no groups) before it touches the sandbox, so one parent serves every host
account. What keeps this parent out of reach: nothing of it is inside any sandbox. A worker cannot
see it (another PID namespace), holds no descriptor of it (all are closed before the
worker starts), and shares no memory with it (fork copies). It never imports the grader
and never initialises CUDA, so a worker inherits neither; each worker makes its own GPU
context. It only ever runs this file's code on the trusted side's requests.

Protocol (a SEQPACKET socket on fd ``argv[1]``): it sends ``ready`` once imported; each
request is a JSON object with descriptors attached (``names`` says which is which).
The child reports its own host pid and the worker's (or ``error: ...``) on the request's
``report`` pipe, then waits for the worker and writes how it ended (``exit N`` / ``signal N``) to
the holder's ``status`` pipe, so that bubblewrap exits the way the worker did.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CLONE_NEWUSER = 0x10000000
NS_GET_PARENT = 0xB702              # ioctl: the user namespace that owns this one
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LIBC = ctypes.CDLL(None, use_errno=True)
JOIN_ORDER = ("mnt", "pid", "net", "ipc", "uts", "cgroup")   # owned by the outer user namespace


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_privileges() -> None:
    """No capabilities in any set, none to gain again (bubblewrap's ``--cap-drop ALL``)."""
    for cap in range(64):
        if _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            _check(-1, f"dropping capability {cap}")
    _LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(_LIBC.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()), "capset")
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def join(ns: dict[str, int]) -> None:
    """Enter the holder's namespaces: the outer user namespace (which owns the others),
    each of the others, then the sandbox's own user namespace (which allows no more)."""
    outer = fcntl.ioctl(ns["user"], NS_GET_PARENT)
    try:
        _check(_LIBC.setns(outer, CLONE_NEWUSER), "entering the outer user namespace")
    finally:
        os.close(outer)
    for name in JOIN_ORDER:
        if name in ns:
            _check(_LIBC.setns(ns[name], 0), f"entering the {name} namespace")
    _check(_LIBC.setns(ns["user"], CLONE_NEWUSER), "entering the sandbox's user namespace")


def _capabilities_gone() -> bool:
    with open("/proc/self/status") as f:
        caps = {k: v.strip() for k, _, v in (line.partition(":") for line in f) if k.startswith("Cap")}
    return bool(caps) and all(int(v, 16) == 0 for v in caps.values())


def _worker(req: dict, fds: dict[str, int]) -> None:
    """In the sandbox's PID namespace: become the worker (never returns)."""
    # A session and process group of its own: in ours, kill(0, ...) from the worker would
    # reach us, outside its PID namespace, and take us out of the host's fence.
    os.setsid()
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not _capabilities_gone():
        os._exit(71)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(fds["out"], 1)
    os.dup2(fds["out"], 2)
    rfd, wfd = fds["rfd"], fds["wfd"]
    os.closerange(3, min(rfd, wfd))
    os.closerange(min(rfd, wfd) + 1, max(rfd, wfd))
    os.closerange(max(rfd, wfd) + 1, 1 << 16)
    os.chdir(req["home"])
    # The environment a worker from scratch gets (imports here may have added to it).
    os.environ.clear()
    os.environ.update(ENVIRONMENT, PWD=req["home"])
    import numpy
    import torch
    import worker

    # Fresh random state, as a worker from scratch has (the parent's would be every worker's).
    numpy.random.seed()
    torch.seed()
    sys.argv = [req["argv0"], str(rfd), str(wfd), req["settings"]]
    sys.path[0] = os.path.dirname(req["argv0"])
    worker.main(sys.argv[1:])
    os._exit(0)


def _child(req: dict, fds: dict[str, int]) -> None:
    """Between the parent and the worker: limits, namespaces, privileges, then the fork
    into the sandbox's PID namespace; reports the worker's pid and, later, how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)   # the parent's reaper must not take ours
    os.setsid()            # out of the parent's process group: closing the parent spares the worker
    report, status = fds.pop("report"), fds.pop("status")
    for which, value in req["rlimits"]:
        resource.setrlimit(which, (value, value))
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(req["oom_score_adj"]))
    uid = req.get("uid")
    if uid is not None:        # a root grader: become the worker's host account first
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        _LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)   # as after an exec, like a worker from scratch
    namespaces = {k: fds.pop(k) for k in ("user", *JOIN_ORDER) if k in fds}
    join(namespaces)
    for fd in namespaces.values():
        os.close(fd)
    drop_privileges()
    pid = os.fork()
    if pid == 0:
        os.close(report)
        os.close(status)
        try:
            _worker(req, fds)
        finally:
            os._exit(70)
    for fd in fds.values():
        os.close(fd)
    os.write(report, f"{os.getpid()} {pid}\n".encode())
    os.close(report)
    wait = _wait(pid)
    line = f"signal {os.WTERMSIG(wait)}" if os.WIFSIGNALED(wait) else f"exit {os.waitstatus_to_exitcode(wait)}"
    with contextlib.suppress(OSError):     # the sandbox may be gone already (killed from the host)
        os.write(status, (line + "\n").encode())
    os.close(status)
    # Stay until every other child is gone: a process the worker made with CLONE_PARENT is
    # ours, and while we live the host finds it below us (``fence.Tree``) and ends it.
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    os._exit(0)


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def _reap(*_: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(sock: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, _reap)
    sock.send(b"ready")
    while True:
        msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 32)
        if not msg:
            os._exit(0)            # the trusted side is gone
        req = json.loads(msg)
        named = dict(zip(req["names"], fds, strict=True))
        # Python threads could hold locks the child would inherit locked. (NumPy's BLAS
        # keeps a native pool, which it shuts down and restarts around a fork itself.)
        if threading.active_count() > 1:
            os.write(named["report"], b"error: the parent has started a thread; it cannot fork safely\n")
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            if os.fork() == 0:
                try:
                    sock.close()
                    _child(req, named)
                except BaseException as exc:
                    try:
                        os.write(named["report"], f"error: {exc}\n".encode()[:500])
                    finally:
                        os._exit(70)
        for fd in fds:
            os.close(fd)


def _preload() -> None:
    """What every worker would import first; nothing here starts a thread or touches CUDA."""
    import IPython.core.interactiveshell  # noqa: F401
    import numpy  # noqa: F401
    import torch
    import torch._dynamo
    import worker  # noqa: F401

    with open("/proc/self/maps") as f:
        driver = any(line.rsplit("/", 1)[-1].startswith("libcuda.so") for line in f)
    if driver or torch.cuda.is_initialized():
        sys.exit("CUDA's driver was loaded while importing; a forked worker could not start its own")


ENVIRONMENT = dict(os.environ)   # as the trusted side set it, before any import

if __name__ == "__main__":
    channel = socket.socket(fileno=int(sys.argv[1]))
    _preload()
    serve(channel)
