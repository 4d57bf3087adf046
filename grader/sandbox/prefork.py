"""Workers forked from a pre-imported parent (``zygote.py``) into a fresh bubblewrap sandbox.

Why: ``import torch`` is 1.5-2 s of CPU per worker, most of a small submission's grading.
The parent pays it once per host account; each worker is still its own process in its
own sandbox, made by bubblewrap exactly as for a worker started from scratch
(``isolation.command``), so no two submissions share a process, a file space, a PID
namespace or a GPU context. ``zygote.py`` says how a forked worker joins that sandbox.

The trusted side here: start the parent (one per interpreter and worker environment, as
the grader's own account; a root grader's parent makes each child the worker's host
account before it joins that account's namespaces), start bubblewrap with a holder in
place of the worker, and hand the holder's namespaces and the worker's pipes to the
parent. The holder (``HOLDER``) tells us when bubblewrap has finished, then waits to hear
how the worker ended and ends the same way, so bubblewrap's exit status, the memory cap
and every death message are those of a worker started from scratch.

Where the parent cannot start (an interpreter its account cannot read, a kernel without
``setns`` for user namespaces), ``parent_for`` says so once and workers start from scratch.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import isolation
from .limits import Limits, worker_env

HERE = Path(__file__).resolve().parent
PARENT_FILES = ("zygote.py", "worker.py", "wire.py", "traps.py", "worker_builtins.py")
NAMESPACES = ("user", "mnt", "pid", "net", "ipc", "uts", "cgroup")
WORKER_NS_PID = 3       # bubblewrap's init is 1, the holder 2, the joined worker 3

# The holder: say "ready" on fd $2 once bubblewrap has set everything up, wait for the
# worker's end on fd $1, then end the same way (a signal on itself, or the exit status).
# bash, as dash redirects only descriptors 0-9; without bash workers start from scratch.
HOLDER = ('echo ready >&"$2"; ready=$2; exec {ready}>&-; read -r how n <&"$1" || exit 70; '
          '[ "$how" = signal ] && kill -"$n" $$; exit "$n"')
HOLDER_SHELL = "/bin/bash"


class PreforkFailed(RuntimeError):
    """The pre-imported parent could not give this worker a sandbox (it then starts from scratch)."""


class Parent:
    """One pre-imported parent process, for workers of one interpreter and environment."""

    def __init__(self, limits: Limits, python: str) -> None:
        self.lock = threading.Lock()
        self.tmp = Path(tempfile.mkdtemp(prefix="grader-prefork-"))
        os.chmod(self.tmp, 0o755)        # the parent's account lists it to import from it
        for name in PARENT_FILES:
            shutil.copy2(HERE / name, self.tmp / name)
            os.chmod(self.tmp / name, 0o644)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [python, "-s", "-B", str(self.tmp / "zygote.py"), str(theirs.fileno())]
        log = open(self.tmp / "parent.log", "wb")   # noqa: SIM115 - the child keeps it
        try:
            self.proc = subprocess.Popen(
                argv, cwd=self.tmp, env=worker_env(limits, isolation.HOME),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(theirs.fileno(),), start_new_session=True)
        finally:
            theirs.close()
            log.close()
        self.sock = ours
        self.sock.settimeout(limits.startup_timeout_s)
        try:
            ready = self.sock.recv(16)
        except OSError:
            ready = b""
        if ready != b"ready":
            why = self.log_tail() or f"exit status {self.proc.poll()}"
            self.close()
            raise PreforkFailed(f"the pre-imported parent did not start: {why}")
        self.sock.settimeout(None)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.tmp / "parent.log").read_text(errors="replace")[-1500:].strip()
        return ""

    def fork(self, fds: dict[str, int], request: dict, timeout: float) -> tuple[int, int]:
        """Ask for a worker in the namespaces among ``fds``: the host pids of the parent's
        child (the worker's parent, outside the sandbox) and of the worker."""
        report_r, report_w = os.pipe()
        names = [*fds, "report"]
        try:
            with self.lock:
                socket.send_fds(self.sock, [json.dumps({**request, "names": names}).encode()],
                                [*fds.values(), report_w])
        except OSError as exc:
            raise PreforkFailed(f"the pre-imported parent is gone ({exc})") from None
        finally:
            os.close(report_w)
        try:
            text = _read_line(report_r, timeout)
        finally:
            os.close(report_r)
        pids = text.split()
        if len(pids) != 2 or not all(p.isdigit() for p in pids):
            raise PreforkFailed(text or "the pre-imported parent's child ended without a word")
        return int(pids[0]), int(pids[1])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, 9)
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _read_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n") and len(data) < 1000:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 1000)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


# At most this many parents per grader process (each holds torch in memory, 0.4-0.7 GB):
# a batch reuses the lowest free host uids, one per job; a burst of workers beyond them
# starts from scratch rather than paying for a parent it would rarely use.
MAX_PARENTS = max(2, os.cpu_count() or 2)
_parents: dict[tuple, Parent | None] = {}   # None: starting in the background
_used: dict[tuple, float] = {}               # when each parent last forked a worker
# Tests and benchmarks that need every sandboxed worker forked set this: a worker then
# waits for its parent to be ready instead of starting from scratch meanwhile.
WAIT = False
_failed: dict[tuple, str] = {}
_failures: dict[tuple, int] = {}             # workers that could not be forked, per key
MAX_FAILURES = 3
_lock = threading.Lock()


def _key(limits: Limits, python: str) -> tuple:
    return (python, tuple(sorted(worker_env(limits, isolation.HOME).items())))


def parent_for(limits: Limits, python: str, *,
               wait: bool = False) -> Parent | None:
    """The live parent for this account and environment, or ``None`` while it starts (in
    the background, so the first workers start from scratch meanwhile; ``wait`` waits)
    and where none can start here (said once on stderr)."""
    key = _key(limits, python)
    with _lock:
        if key in _failed:
            return None
        if key in _parents:
            parent = _parents[key]
            if parent is None or parent.alive:
                if parent is not None or not wait:
                    _used[key] = time.monotonic()
                    return parent
            else:
                parent.close()
                del _parents[key]
        if key not in _parents:
            if len(_parents) >= MAX_PARENTS and not _evict_one():
                return None
            _parents[key] = None
            starter = threading.Thread(target=_start, args=(key, limits, python),
                                       daemon=True, name="grader-prefork-start")
            starter.start()
    if not wait:
        return None
    while True:
        with _lock:
            if key in _failed:
                return None
            if _parents.get(key) is not None:
                return _parents[key]
        time.sleep(0.05)


def _evict_one() -> bool:
    """Close the parent used least recently (its workers live on: each is in a session of
    its own, below a child that left the parent's process group); under ``_lock``."""
    ready = [k for k, p in _parents.items() if p is not None]
    if not ready:
        return False
    key = min(ready, key=lambda k: _used.get(k, 0.0))
    parent = _parents.pop(key)
    threading.Thread(target=parent.close, daemon=True).start()
    return True


def _start(key: tuple, limits: Limits, python: str) -> None:
    try:
        parent = Parent(limits, python)
    except (OSError, PreforkFailed) as exc:
        with _lock:
            _parents.pop(key, None)
            _failed[key] = str(exc)
        print(f"grader: workers start from scratch (no pre-imported parent: {exc})",
              file=sys.stderr)
        return
    with _lock:
        if key in _parents:
            _parents[key] = parent
            return
    parent.close()       # forgotten meanwhile


def forget(limits: Limits, python: str, why: str) -> None:
    """A worker could not be forked (it then starts from scratch). After ``MAX_FAILURES``
    the parent for this key is closed and no longer used in this process: a machine where
    forking cannot work pays for a failed attempt a few times, not on every worker."""
    key = _key(limits, python)
    with _lock:
        _failures[key] = _failures.get(key, 0) + 1
        if _failures[key] < MAX_FAILURES:
            print(f"grader: a worker starts from scratch ({why})", file=sys.stderr)
            return
        parent = _parents.pop(key, None)
        _failed[key] = why
    if parent is not None:
        parent.close()
    print(f"grader: workers start from scratch from now on ({why})", file=sys.stderr)


@atexit.register
def close_all() -> None:
    with _lock:
        parents = list(_parents.values())
        _parents.clear()
    for parent in parents:
        if parent is not None:
            parent.close()


def namespace_fds(holder: int) -> dict[str, int]:
    """Open the holder's namespaces (``cgroup`` only where the kernel has one for it)."""
    fds: dict[str, int] = {}
    try:
        for name in NAMESPACES:
            path = f"/proc/{holder}/ns/{name}"
            if name == "cgroup" and not os.path.exists(path):
                continue
            fds[name] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        for fd in fds.values():
            os.close(fd)
        raise
    return fds


def same_pid_namespace(a: int, b: int) -> bool:
    try:
        return os.stat(f"/proc/{a}/ns/pid").st_ino == os.stat(f"/proc/{b}/ns/pid").st_ino
    except OSError:
        return False
