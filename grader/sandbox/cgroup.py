"""A memory cgroup per worker, where the machine lets the grader make one.

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
    """"memory" -> the v1 memory hierarchy's mount point, "" -> the v2 mount point."""
    out = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, right = line.split(" - ", 1)
                fstype, _src, options = right.split()[:3]
                point = left.split()[4]
                if fstype == "cgroup2":
                    out.setdefault("", point)
                elif fstype == "cgroup" and "memory" in options.split(","):
                    out.setdefault("memory", point)
    except (OSError, ValueError):
        pass
    return out


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


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
        fd = os.open(os.path.join(self.path, "cgroup.procs"), os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)

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
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)
