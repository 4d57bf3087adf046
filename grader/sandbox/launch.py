"""Starting one worker process: its code, its pipes, its sandbox, its memory cap.

The trusted side's host folder (``tmp``) holds the worker's code (bound read-only) and,
for root, the mount point of the staging tmpfs; a sandboxed worker writes only to its own
tmpfs, which vanishes with it. The protocol pipes are non-blocking on the trusted side, so
that every read and write keeps its deadline (``wire.write_frame``).

A sandboxed worker is forked from a pre-imported parent where one runs (``prefork``):
bubblewrap makes the same sandbox, with a holder in the worker's place, and the forked
worker joins it. Otherwise, and whenever that fails, the worker starts from scratch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import fence, isolation, prefork
from .cgroup import Freezer, MemoryCap
from .limits import Limits, worker_env, worker_settings
from .output import OutputTail

HERE = Path(__file__).resolve().parent
# The files that run inside the sandbox: they import nothing else of the package.
WORKER_FILES = ("worker.py", "wire.py", "traps.py", "worker_builtins.py")


@dataclass
class Launched:
    proc: subprocess.Popen
    output: OutputTail          # the worker's raw stdout and stderr, drained and capped
    to_worker: int              # the trusted ends of the protocol pipes
    from_worker: int
    memory_cap: MemoryCap | None
    freezer: Freezer | None     # holds every process of the worker between requests
    host_uid: int | None        # root only: the host account this worker runs as
    tree: fence.Tree            # where the worker's processes are, seen from the host
    forked: bool = False        # forked from the pre-imported parent


class _Pipes:
    """The worker's protocol pipes and output pipe; the trusted side keeps one end of each."""

    def __init__(self) -> None:
        self.to_worker_r, self.to_worker_w = os.pipe()
        self.from_worker_r, self.from_worker_w = os.pipe()
        self.out_r, self.out_w = os.pipe()

    def close_theirs(self) -> None:
        for fd in (self.to_worker_r, self.from_worker_w, self.out_w):
            os.close(fd)

    def close_ours(self) -> None:
        for fd in (self.to_worker_w, self.from_worker_r, self.out_r):
            os.close(fd)


def launch(limits: Limits, python: str, tmp: Path) -> Launched:
    """Start ``worker.py`` under ``limits`` (bubblewrap unless ``limits.sandbox`` is off)."""
    os.chmod(tmp, 0o711)
    code = tmp / "code"
    code.mkdir(mode=0o755)
    for name in WORKER_FILES:
        shutil.copy2(HERE / name, code / name)
        os.chmod(code / name, 0o644)
    host_uid = isolation.HostUids.acquire(limits) if limits.sandbox and isolation.is_root() else None
    try:
        parent = (prefork.parent_for(limits, python, wait=prefork.WAIT)
                  if limits.sandbox and limits.prefork else None)
        if parent is not None:
            try:
                return _forked(limits, python, tmp, code, host_uid, parent)
            except prefork.PreforkFailed as exc:
                prefork.forget(limits, python, str(exc))
        return _from_scratch(limits, python, tmp, code, host_uid)
    except BaseException:
        if host_uid is not None:
            isolation.HostUids.release(host_uid)
        raise


def _popen(limits: Limits, cmd: list[str], cwd: str, home: str, out_w: int,
           pass_fds: tuple[int, ...], groups: _Cgroups) -> subprocess.Popen:
    def preexec() -> None:
        groups.enter()
        limits.preexec()

    return subprocess.Popen(cmd, cwd=cwd, env=worker_env(limits, home), stdin=subprocess.DEVNULL,
                            stdout=out_w, stderr=out_w, pass_fds=pass_fds,
                            start_new_session=True, preexec_fn=preexec)


def _from_scratch(limits: Limits, python: str, tmp: Path, code: Path,
                  host_uid: int | None) -> Launched:
    pipes = _Pipes()
    args = [str(pipes.to_worker_r), str(pipes.from_worker_w), worker_settings(limits)]
    groups = _Cgroups.create(limits)
    try:
        if limits.sandbox:
            stage = tmp / "stage"
            stage.mkdir(mode=0o755, exist_ok=True)   # an empty mount point (a failed fork may have made it)
            cmd = isolation.command(limits, python, str(code), args, str(stage), host_uid=host_uid)
            home, cwd = isolation.HOME, "/"
        else:
            home = cwd = str(tmp / "home")
            os.mkdir(home, 0o700)
            cmd = [python, "-s", "-B", str(code / "worker.py"), *args]
        proc = _popen(limits, cmd, cwd, home, pipes.out_w,
                      (pipes.to_worker_r, pipes.from_worker_w), groups)
    except BaseException:
        pipes.close_ours()
        groups.remove()
        raise
    finally:
        pipes.close_theirs()
    tree = fence.Tree((proc.pid,)) if limits.sandbox else fence.Tree((proc.pid,), worker=proc.pid)
    return _launched(limits, proc, pipes, groups, host_uid, tree)


@dataclass
class _Cgroups:
    """The worker's memory cap and freezer (``cgroup``), each None where it cannot be made."""

    cap: MemoryCap | None
    freezer: Freezer | None

    @classmethod
    def create(cls, limits: Limits) -> _Cgroups:
        cap = MemoryCap.create(limits.host_memory_bytes)
        return cls(cap, Freezer.create(cap) if limits.sandbox else None)

    def enter(self) -> None:
        for group in (self.cap, self.freezer):
            if group is not None:
                group.enter()

    def add(self, pid: int) -> None:
        for group in (self.cap, self.freezer):
            if group is not None:
                group.add(pid)

    def remove(self) -> None:
        for group in (self.freezer, self.cap):
            if group is not None:
                group.remove()


def _launched(limits: Limits, proc: subprocess.Popen, pipes: _Pipes, groups: _Cgroups,
              host_uid: int | None, tree: fence.Tree, forked: bool = False) -> Launched:
    os.set_blocking(pipes.to_worker_w, False)
    os.set_blocking(pipes.from_worker_r, False)
    return Launched(proc, OutputTail(pipes.out_r, limits.log_bytes), pipes.to_worker_w,
                    pipes.from_worker_r, groups.cap, groups.freezer, host_uid, tree, forked)


def _forked(limits: Limits, python: str, tmp: Path, code: Path, host_uid: int | None,
            parent: prefork.Parent) -> Launched:
    """bubblewrap with the holder; the parent's child joins it as the worker (pid 3)."""
    status_r, status_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pipes = _Pipes()
    mine = [status_w, ready_r]          # closed when this returns or fails
    theirs = [status_r, ready_w]        # the holder's: closed once bubblewrap has them
    groups, proc = _Cgroups(None, None), None
    try:
        stage = tmp / "stage"
        stage.mkdir(mode=0o755)
        holder = [prefork.HOLDER_SHELL, "-c", prefork.HOLDER, "holder", str(status_r), str(ready_w)]
        cmd = isolation.command(limits, python, str(code), [], str(stage), host_uid=host_uid,
                                program=holder)
        groups = _Cgroups.create(limits)
        proc = _popen(limits, cmd, "/", isolation.HOME, pipes.out_w, (status_r, ready_w), groups)
        _close(theirs)
        if prefork._read_line(ready_r, limits.startup_timeout_s) != "ready":
            raise prefork.PreforkFailed("bubblewrap did not start the holder: "
                                        + _tail(pipes.out_r))
        holder_pid = fence.worker_pid(fence.Tree((proc.pid,)))
        if holder_pid is None:
            raise prefork.PreforkFailed("the holder is not in its sandbox")
        ns = prefork.namespace_fds(holder_pid)
        try:
            request = {"settings": worker_settings(limits), "home": isolation.HOME, "uid": host_uid,
                       "argv0": f"{isolation.CODE}/worker.py", "oom_score_adj": 1000,
                       "rlimits": limits.rlimits()}
            fds = {**ns, "rfd": pipes.to_worker_r, "wfd": pipes.from_worker_w,
                   "out": pipes.out_w, "status": status_w}
            between, worker = parent.fork(fds, request, limits.startup_timeout_s)
        finally:
            _close(list(ns.values()))
        if fence._namespace_pid(worker) != prefork.WORKER_NS_PID \
                or not prefork.same_pid_namespace(worker, holder_pid) \
                or fence.parent_pid(worker) != between:
            raise prefork.PreforkFailed("the forked worker is not where its sandbox is")
        groups.add(worker)
    except BaseException:
        if proc is not None:
            with contextlib.suppress(Exception):
                os.killpg(proc.pid, 9)
                proc.wait(timeout=10)
        groups.remove()
        pipes.close_ours()
        raise
    finally:
        pipes.close_theirs()
        _close(theirs + mine)
    # Roots: bubblewrap, and the parent's child, below which are the worker and anything it
    # made with CLONE_PARENT (that child waits for all of them before it ends).
    tree = fence.Tree((proc.pid, between), keep=frozenset({1, 2, prefork.WORKER_NS_PID}),
                      worker=worker, between=between)
    return _launched(limits, proc, pipes, groups, host_uid, tree, forked=True)


def _close(fds: list[int]) -> None:
    """Close each descriptor once (the list is emptied)."""
    while fds:
        with contextlib.suppress(OSError):
            os.close(fds.pop())


def _tail(fd: int) -> str:
    """What bubblewrap said, if anything (the output pipe is still blocking here)."""
    import select

    if select.select([fd], [], [], 0)[0]:
        return os.read(fd, 2000).decode(errors="replace").strip()[-300:]
    return "(no output)"
