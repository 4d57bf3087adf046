"""A memory cgroup and a freezer per worker, where the machine lets the grader make them.

Why: ``RLIMIT_AS`` caps each process's address space, not the worker's total (a student's
processes add up), and CUDA cannot start under it at all, so a GPU worker's host memory is
otherwise uncapped. A memory cgroup caps every process of the worker together, and the
kernel's OOM killer then ends that worker only.

Where: cgroup v1 (a ``memory`` hierarchy) or v2 (the unified hierarchy with the memory
controller delegated to the grader's cgroup), in a child of the grader's own cgroup that
the grader can create (root, or an account the hierarchy was delegated to). Elsewhere
``MemoryCap.create`` returns ``None`` and the result says that host memory was not capped
beyond the rlimits. The worker never sees the cgroup file system: it is not bound into the
sandbox (on CUDA /sys is bound read-only).

The freezer (``Freezer``) holds the worker between requests where signals cannot: a
SIGSTOP is undone by a SIGCONT the worker arranged to receive (one-shot timers armed during
a call), a frozen cgroup only by the host.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time

_counter = itertools.count()


def _own_cgroups() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    out = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _id, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") if controllers else [""]:
                    out[c] = path
    except OSError:
        pass
    return out


def _mounts() -> dict[str, str]:
    """"memory"/"freezer" -> that v1 hierarchy's mount point, "" -> the v2 mount point."""
    out = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, right = line.split(" - ", 1)
                fstype, _src, options = right.split()[:3]
                point = left.split()[4]
                if fstype == "cgroup2":
                    out.setdefault("", point)
                elif fstype == "cgroup":
                    for controller in {"memory", "freezer"} & set(options.split(",")):
                        out.setdefault(controller, point)
    except (OSError, ValueError):
        pass
    return out


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _enter(path: str) -> None:
    """Move the calling process into the cgroup at ``path`` (runs between fork and exec:
    one raw write, nothing that allocates much)."""
    fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY)
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)


def _rmdir(path: str) -> None:
    """Remove a cgroup once its processes are gone (they die with the PID namespace, a
    moment after the kill)."""
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


class MemoryCap:
    """One worker's memory cgroup: create, enter (between fork and exec), remove."""

    def __init__(self, path: str, version: int) -> None:
        self.path, self.version = path, version

    @classmethod
    def create(cls, limit_bytes: int | None) -> MemoryCap | None:
        if not limit_bytes:
            return None
        own, mounts = _own_cgroups(), _mounts()
        name = f"grader-worker-{os.getpid()}-{next(_counter)}"
        if "memory" in mounts and "memory" in own:
            return cls._make(os.path.join(mounts["memory"], own["memory"].lstrip("/"), name), 1,
                             {"memory.limit_in_bytes": str(limit_bytes)},
                             {"memory.memsw.limit_in_bytes": str(limit_bytes)})
        if "" in mounts and "" in own:
            parent = os.path.join(mounts[""], own[""].lstrip("/"))
            try:
                with open(os.path.join(parent, "cgroup.subtree_control")) as f:
                    if "memory" not in f.read().split():
                        return None
            except OSError:
                return None
            return cls._make(os.path.join(parent, name), 2, {"memory.max": str(limit_bytes)},
                             {"memory.swap.max": "0"})
        return None

    @classmethod
    def _make(cls, path: str, version: int, required: dict, optional: dict) -> MemoryCap | None:
        try:
            os.mkdir(path, 0o755)
        except OSError:
            return None
        cap = cls(path, version)
        try:
            for name, value in required.items():
                _write(os.path.join(path, name), value)
        except OSError:
            cap.remove()
            return None
        for name, value in optional.items():
            with contextlib.suppress(OSError):
                _write(os.path.join(path, name), value)
        return cap

    def enter(self) -> None:
        """Move the calling process into the cgroup (runs between fork and exec)."""
        _enter(self.path)

    def add(self, pid: int) -> None:
        """Move a process that did not start below the cgroup into it (a forked worker)."""
        _write(os.path.join(self.path, "cgroup.procs"), str(pid))

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the worker for memory."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            with open(os.path.join(self.path, name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (they die with the PID namespace)."""
        _rmdir(self.path)


class Freezer:
    """One worker's freezer: every process of the worker, frozen by the kernel between
    requests (``fence.Hold``). v1: a cgroup of its own in the ``freezer`` hierarchy. v2: the
    worker's memory cgroup (a process is in one v2 cgroup only), through ``cgroup.freeze``.
    """

    def __init__(self, path: str, version: int, owned: bool) -> None:
        self.path, self.version, self.owned = path, version, owned

    @classmethod
    def create(cls, memory_cap: MemoryCap | None) -> Freezer | None:
        if memory_cap is not None and memory_cap.version == 2:
            ok = os.path.exists(os.path.join(memory_cap.path, "cgroup.freeze"))
            return cls(memory_cap.path, 2, owned=False) if ok else None
        own, mounts = _own_cgroups(), _mounts()
        if "freezer" not in mounts or "freezer" not in own:
            return None
        path = os.path.join(mounts["freezer"], own["freezer"].lstrip("/"),
                            f"grader-worker-{os.getpid()}-{next(_counter)}")
        try:
            os.mkdir(path, 0o755)
        except OSError:
            return None
        return cls(path, 1, owned=True)

    def enter(self) -> None:
        """Move the calling process in (between fork and exec); v2: the memory cap does."""
        if self.owned:
            _enter(self.path)

    def add(self, pid: int) -> None:
        """Move a process that did not start below the cgroup into it (a forked worker)."""
        if self.owned:
            _write(os.path.join(self.path, "cgroup.procs"), str(pid))

    def freeze(self) -> None:
        self._set(True)

    def thaw(self) -> None:
        self._set(False)

    def _set(self, frozen: bool) -> None:
        with contextlib.suppress(OSError):   # a cgroup already removed holds nothing
            if self.version == 1:
                _write(os.path.join(self.path, "freezer.state"), "FROZEN" if frozen else "THAWED")
            else:
                _write(os.path.join(self.path, "cgroup.freeze"), "1" if frozen else "0")

    def wait_frozen(self, timeout: float = 1.0) -> bool:
        """Until every process is frozen (a running one takes a moment), or ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.state() != "FROZEN":
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.0005)
        return True

    def pids(self) -> list[int]:
        """The processes in the cgroup (every process of the worker's sandbox)."""
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except (OSError, ValueError):
            return []

    def state(self) -> str:
        """"FROZEN", "FREEZING" or "THAWED" (v2 reads ``cgroup.events``)."""
        try:
            if self.version == 1:
                with open(os.path.join(self.path, "freezer.state")) as f:
                    return f.read().strip()
            with open(os.path.join(self.path, "cgroup.events")) as f:
                frozen = any(line.split() == ["frozen", "1"] for line in f)
            return "FROZEN" if frozen else "THAWED"
        except OSError:
            return "THAWED"

    def remove(self) -> None:
        """Thaw (a frozen v1 task dies of SIGKILL only once thawed), then remove its own."""
        self.thaw()
        if self.owned:
            _rmdir(self.path)
