"""Work a student call starts does not outlive that call: end the processes it left behind.

Inside the sandbox's PID namespace, pid 1 is bubblewrap's init and pid 2 the worker that
answers requests; any other process was started by student code. When a request has been
answered, the trusted side looks at the sandbox from the host (``/proc``: every process
below bubblewrap, by parent pid, with its pid inside the namespace from ``NSpid``) and
SIGKILLs every process that is neither. A daemon that double-forked and called setsid is
still below bubblewrap (the namespace's init adopted it), so it is found too.

Threads inside the worker are not processes and cannot be ended from outside without
ending the worker, so between requests the worker is *frozen* (SIGSTOP, every thread at
once) and thawed (SIGCONT) when the next request is sent: a thread a call started does
no work between calls, and what it does during a later call is that call's CPU time.
ps5 goes further and hands the trained weights over to a fresh worker (``hidden/mnist_eval``).

``cpu_seconds`` is the sandbox's CPU time as the kernel counts it, read from the host:
the clock of load-independent budgets, which nothing inside the sandbox can set back.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from typing import NamedTuple

from ..faults import ProtocolViolation, WorkerDied

KEEP = frozenset({1, 2})   # the namespace's init and the worker itself


class Tree(NamedTuple):
    """A sandbox as the host sees it: the processes below ``roots``, of which those with a
    namespace pid in ``keep`` are the sandbox's own.

    A worker started by bubblewrap has one root (bubblewrap) and is pid 2. A worker forked
    by the pre-imported parent (``prefork``) joined the namespaces of bubblewrap's holder
    (pid 2) as pid 3; its parent lives outside, so that parent is a second root, and
    ``worker`` is the worker's host pid.
    """

    roots: tuple[int, ...]
    keep: frozenset[int] = KEEP
    worker: int | None = None
    between: int | None = None   # a forked worker's parent (a root): it must outlive the worker


def _children(pid: int) -> list[int] | None:
    """Children of every thread of ``pid`` (``None`` where the kernel has no such files)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            if tid == tasks[0] and not os.path.exists(f"/proc/{pid}/task/{tid}/children"):
                return None
        except OSError:
            continue
    return out


def parent_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _parents() -> dict[int, int]:
    """host pid -> parent pid, for every process (the slow way, without children files)."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (parent := parent_pid(int(name))) is not None:
            out[int(name)] = parent
    return out


def _below(root: int | Tree) -> set[int]:
    """Host pids below ``root`` (a pid or every root of a ``Tree``), roots excluded."""
    roots = root.roots if isinstance(root, Tree) else (root,)
    found: set[int] = set()
    frontier = list(roots)
    parents: dict[int, int] | None = None
    while frontier:
        pid = frontier.pop()
        kids = _children(pid)
        if kids is None:
            parents = parents if parents is not None else _parents()
            kids = [c for c, pp in parents.items() if pp == pid]
        for kid in kids:
            if kid not in found:
                found.add(kid)
                frontier.append(kid)
    return found


def _namespace_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    values = line.split()[1:]
                    return int(values[-1]) if len(values) > 1 else None
    except (OSError, ValueError):
        pass
    return None


def strays(tree: Tree) -> list[int]:
    """Live host pids below the tree's roots that are not the sandbox's own (init, worker...)."""
    out = []
    for pid in _below(tree) - set(tree.roots):
        inner = _namespace_pid(pid)
        if inner is not None and inner not in tree.keep and not _ended(pid):
            out.append(pid)
    return sorted(out)


def _ended(pid: int) -> bool:
    """A zombie (or a process already gone): killed, not yet reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def worker_pid(tree: Tree) -> int | None:
    """The host pid of the sandbox's worker (pid 2 inside its namespace), if it is alive."""
    if tree.worker is not None:
        return tree.worker
    for pid in _below(tree):
        if _namespace_pid(pid) == 2:
            return pid
    return None


def handle(pid: int) -> int | None:
    """A pidfd for ``pid``: signals through it never reach another process that got the
    number after this one ended (``None`` where the process is gone already)."""
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def ended(pidfd: int) -> bool:
    """Whether the process behind ``pidfd`` has ended (its pidfd polls readable then)."""
    return bool(select.select([pidfd], [], [], 0)[0])


def freeze(pidfd: int) -> None:
    """Stop every thread of the process until ``thaw`` (a stopped process cannot undo it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        signal.pidfd_send_signal(pidfd, signal.SIGSTOP)


def thaw(pidfd: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        signal.pidfd_send_signal(pidfd, signal.SIGCONT)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(tree: Tree) -> float:
    """CPU time (user + system) used so far by the tree's roots and every process below them.

    A live process counts its own time; one that ended and was reaped counts in its
    parent's ``cutime``/``cstime`` (inside a PID namespace orphans are reaped by its init,
    which is below ``root``), so nothing that ran in the sandbox is missed.
    """
    ticks = 0
    for pid in {*tree.roots, *_below(tree)}:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            continue
    return ticks / _TICK


CPU_POLL_S = 0.2   # how often a call with a CPU budget reads the sandbox's clock


def await_frame(fd: int, root: Tree, cpu_until: float, deadline: float) -> bool:
    """Wait until ``fd`` can be read or ``deadline`` (``time.monotonic``) passes; ``False``
    as soon as the sandbox ``root`` has used more than ``cpu_until`` CPU seconds."""
    while not select.select([fd], [], [], min(CPU_POLL_S, max(0.0, deadline - time.monotonic())))[0]:
        if cpu_seconds(root) > cpu_until:
            return False
        if time.monotonic() >= deadline:
            return True          # the caller's read raises its timeout
    return cpu_seconds(root) <= cpu_until


STRAY_ROUNDS = 50   # a stray that forks and exits over and over outruns one sweep
STRAY_EXIT_S = 2.0  # how long a frozen sweep waits for the strays it killed to be gone


def end_strays(root: Tree) -> int:
    """SIGKILL what ``strays`` finds, again until nothing is left (a process that keeps
    forking a child and exiting is a new pid after each sweep); how many were killed.
    The sweep where the worker has no freezer (``Hold._end_frozen_strays`` otherwise)."""
    killed: set[int] = set()
    for _ in range(STRAY_ROUNDS):
        found = [pid for pid in strays(root) if pid not in killed]   # killed ones take a moment
        if not found:
            break
        for fd in _kill(found):
            os.close(fd)
        killed.update(found)
    return len(killed)


def _kill(pids: list[int]) -> list[int]:
    """SIGKILL each process through a pidfd (never another that got its number later);
    the pidfds of those still there, for the caller to wait on or close."""
    fds = [fd for fd in map(handle, pids) if fd is not None]
    for fd in fds:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    return fds


def _await_exits(fds: list[int]) -> None:
    """Wait (at most ``STRAY_EXIT_S`` in all) until each process has exited; close the fds."""
    deadline = time.monotonic() + STRAY_EXIT_S
    for fd in fds:
        with contextlib.suppress(OSError):
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        os.close(fd)


def kept(tree: Tree) -> list[int]:
    """Host pids of the sandbox's own processes (namespace pids in ``keep``)."""
    return sorted(pid for pid in _below(tree) if _namespace_pid(pid) in tree.keep)


def traced(pid: int) -> bool:
    """Whether a process is being traced (``TracerPid`` in its status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return line.split()[1] != "0"
    except (OSError, IndexError):
        pass
    return False


class Hold:
    """The host's hold on one worker between requests (``settle``) and during one (``release``).

    After each reply: the strays end; the worker it knows must still be the one answering
    (a pidfd, so a pid reused by another process is never signalled); none of the
    sandbox's own processes (bubblewrap's init, a forked worker's holder, the worker) may
    be traced, since whoever traces one can make it run code the fence does not stop; then
    the worker stops first, the others after it, and the worker's freezer cgroup freezes
    them all (``cgroup.Freezer``, where the machine has one): a stop alone is undone by a
    SIGCONT the worker arranged to receive (one-shot timers armed during a call), a frozen
    cgroup only by the host. A thread or injected code in any of them therefore runs only
    while a request is served, on that request's CPU clock.
    """

    def __init__(self, tree: Tree, sandboxed: bool, freezer=None) -> None:
        self.tree, self.sandboxed, self.freezer = tree, sandboxed, freezer
        self.worker = handle(tree.worker) if tree.worker is not None else None
        self.between = handle(tree.between) if tree.between is not None else None
        self.own: list[int] | None = None      # host pids of the sandbox's own processes
        self.others: list[int] = []            # pidfds of those that are not the worker
        self.strays_ended = 0

    def settle(self) -> None:
        """Raise ``WorkerDied``/``ProtocolViolation`` (the caller kills the worker) or freeze."""
        if self.sandboxed and self.freezer is None:
            self.strays_ended += end_strays(self.tree)
        if self.worker is None:
            pid = worker_pid(self.tree)
            self.worker = handle(pid) if pid is not None else None
        if self.sandboxed and self.own is None:
            self.own = kept(self.tree)
            mine = self.tree.worker if self.tree.worker is not None else worker_pid(self.tree)
            self.others = [fd for fd in (handle(p) for p in self.own if p != mine) if fd is not None]
        if self.worker is not None and ended(self.worker):   # e.g. a copy made with CLONE_PARENT
            raise WorkerDied("the worker process ended; whatever answered in its place was stopped")
        if self.between is not None and ended(self.between):   # it waits for the worker: killed
            raise ProtocolViolation("the worker ended the process that holds it for the grader")
        if self.sandboxed and any(traced(pid) for pid in self.own or ()):
            raise ProtocolViolation("the worker attached to the sandbox's own processes with ptrace")
        for fd in ([self.worker] if self.worker is not None else []) + self.others:
            freeze(fd)
        if self.freezer is not None:
            self.freezer.freeze()
            if self.sandboxed:
                self.strays_ended += self._end_frozen_strays()

    def _end_frozen_strays(self) -> int:
        """End the strays with the sandbox frozen, so that none can move while it is looked
        for: every process of the sandbox is in its freezer cgroup (a child inherits it, and
        the cgroup file system is not in the sandbox), so the strays are the cgroup's
        processes that are not the sandbox's own. A walk of the process tree instead can
        miss a process that forks and exits over and over (its child moves to init between
        two reads). Killed, they are thawed to die (their own threads run nothing more: a
        pending SIGKILL is taken before user code, and forks fail) and frozen again."""
        mine = {*self.tree.roots, *(self.own or ())}
        if self.tree.worker is not None:
            mine.add(self.tree.worker)
        ended_now = 0
        for _ in range(STRAY_ROUNDS):
            found = [pid for pid in self.freezer.pids() if pid not in mine]
            if not found:
                break
            # Only now wait until the freeze has taken: with nothing but the sandbox's own
            # (stopped) processes, a request does not wait for it.
            self.freezer.wait_frozen()
            found = [pid for pid in self.freezer.pids() if pid not in mine]
            exits = _kill(found)
            self.freezer.thaw()
            _await_exits(exits)
            self.freezer.freeze()
            ended_now += len(found)
        return ended_now

    def survivors(self) -> list[int]:
        """pidfds of the sandbox's own processes, taken before bubblewrap is killed (its init
        is found below it only while it lives). Not a forked worker's parent: it reaps the
        worker, and a worker reaped by nobody would keep its init, and so the whole PID
        namespace, from ever ending (it leaves by itself once its children are gone)."""
        fresh = [fd for fd in (handle(p) for p in (kept(self.tree) if self.sandboxed else ()))
                 if fd is not None]
        return fresh + [os.dup(fd) for fd in [*self.others, self.worker] if fd is not None]

    @staticmethod
    def end(pidfds: list[int]) -> None:
        """SIGKILL what is still alive of ``survivors`` after bubblewrap was killed: a worker
        can clear its init's die-with-parent signal with ptrace; killing init ends its PID
        namespace, every process in it, whatever that init would do."""
        for fd in pidfds:
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            os.close(fd)

    def release(self) -> None:
        if self.freezer is not None:
            self.freezer.thaw()
        for fd in self.others + ([self.worker] if self.worker is not None else []):
            thaw(fd)

    def close(self) -> None:
        for fd in self.others + [fd for fd in (self.worker, self.between) if fd is not None]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.others, self.worker, self.between = [], None, None
