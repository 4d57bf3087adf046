"""What one worker may use: every timeout and resource limit of the sandbox, in one place.

``Limits`` is the single home of these numbers. Grading profiles (``grader.config``) pick
a ``Limits`` and change only what differs between CPU and GPU runs; the client, the
session and the OS sandbox read them from here and define none of their own.

The rlimits below are set between fork and exec (``preexec``), before bubblewrap starts,
except the process cap: ``RLIMIT_NPROC`` is counted per user, so the worker sets it on
itself once it is inside its own user namespace (there it counts only its own processes,
not those of every other worker that runs under the same host account).
"""

from __future__ import annotations

import json
import os
import resource
from dataclasses import dataclass

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True)
class Limits:
    """What one worker may use. ``None`` leaves a limit at the system default."""

    # Wall-clock timeouts (seconds): the trusted side kills the worker when one runs out.
    startup_timeout_s: float = 180.0      # process start, imports, CUDA context: until a ping
    call_timeout_s: float = 60.0          # one call of a student function
    training_call_timeout_s: float = 120.0  # a call that trains or predicts in bulk (ps3, ps5)
    cell_timeout_s: float = 120.0         # one notebook cell
    notebook_timeout_s: float = 300.0     # all the notebook's cells together
    submission_timeout_s: float = 900.0   # everything one submission may take, restarts included
    stats_timeout_s: float = 10.0         # the informational resource report at the end
    # CPU budgets of calls that iterate a student's code (ps3's train_xor): the reference's
    # CPU time for the same call, measured by the grader, times the factor, at least the
    # floor. A wrong answer that never converges then costs a bounded multiple of a right one.
    budget_factor: float = 5.0
    budget_floor_cpu_s: float = 3.0

    # Kernel limits (rlimits): a breach ends the offending call, never the grader.
    memory_bytes: int | None = 12 * GiB   # address space per process (None on CUDA: see config)
    cpu_seconds: int | None = 3600        # CPU time per process
    file_bytes: int | None = 256 * MiB    # largest file the worker may write
    open_files: int | None = 1024
    max_processes: int | None = 256       # processes and threads inside the sandbox
    host_memory_bytes: int | None = 12 * GiB  # all the worker's processes together (a memory
                                              # cgroup, where the machine allows one; cgroup.py)

    # Sizes of what the worker can fill.
    workdir_bytes: int = 512 * MiB        # its one writable folder (cwd, HOME, TMPDIR; tmpfs)
    shm_bytes: int = 256 * MiB            # /dev/shm (DataLoader workers use it)
    log_bytes: int = 64 * 1024            # raw stdout/stderr kept from the worker process
    cell_output_chars: int = 20_000       # captured prints per cell or call
    max_result_bytes: int = 512 * MiB     # tensors in one reply

    # Compute.
    threads: int = 2                      # intra-op threads for torch/OpenMP in the worker
    cuda_device: str | None = ""          # "" hides all GPUs; "0" gives slot 0
    cuda_memory_fraction: float | None = None

    # The OS sandbox (bubblewrap). ``sandbox=False`` is only for a student's own check on a
    # machine without bubblewrap, or an instructor's explicit ``--unsandboxed``.
    sandbox: bool = True
    # Fork sandboxed workers from a pre-imported parent (``prefork``) instead of starting
    # each from scratch; where that parent cannot start, workers start from scratch.
    prefork: bool = True
    host_uid: int = 600_000               # when the grader is root: workers run as host uids
    host_uids: int = 1024                 # host_uid ... host_uid+host_uids-1, one per live worker
    extra_ro_paths: tuple[str, ...] = ()  # more read-only binds (e.g. a driver folder)
    private_paths: tuple[str, ...] = ()   # never inside: the course, the data root (config sets)

    def rlimits(self) -> list[tuple[int, int]]:
        """(resource, value) for each kernel limit a worker process gets, capped at the hard limit."""
        pairs = [
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_CORE, 0),
        ]
        out = []
        for which, value in pairs:
            if value is None:
                continue
            _soft, hard = resource.getrlimit(which)
            out.append((which, value if hard == resource.RLIM_INFINITY else min(value, hard)))
        return out

    def preexec(self) -> None:
        """Runs in the child between fork and exec: rlimits and an OOM-killer preference."""
        for which, cap in self.rlimits():
            resource.setrlimit(which, (cap, cap))
        # When memory runs out, the kernel should kill a worker, never the grader.
        try:
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            try:
                os.write(fd, b"1000")
            finally:
                os.close(fd)
        except OSError:
            pass


def worker_env(limits: Limits, home: str) -> dict[str, str]:
    """A minimal environment: nothing of the grader's own configuration leaks in."""
    # The loader path and CUDA's own variables are the machine's, not the grader's: GPU
    # images often find the driver's libcuda through LD_LIBRARY_PATH alone.
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "CUDA_HOME",
            "CUDA_PATH", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    threads = str(max(1, limits.threads))
    env.update(
        HOME=home,
        TMPDIR=home,
        USER="student",
        LOGNAME="student",
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        NBGRADER_EXECUTION="autograde",
        CUBLAS_WORKSPACE_CONFIG=":4096:8",
    )
    path = outside_python_path(limits.private_paths)
    if path:
        env["PYTHONPATH"] = path
    if limits.cuda_device is not None:
        env["CUDA_VISIBLE_DEVICES"] = limits.cuda_device
    return env


def worker_settings(limits: Limits) -> str:
    """What ``worker.py`` applies to itself at start, as one JSON argument (not secret)."""
    return json.dumps({"max_processes": limits.max_processes,
                       "cell_output_chars": limits.cell_output_chars,
                       "cuda_memory_fraction": limits.cuda_memory_fraction}, sort_keys=True)


def outside_python_path(private: tuple[str, ...] = ()) -> str:
    """The grader's own PYTHONPATH minus anything that could lead to what the worker must not see.

    Some machines install packages outside the interpreter's prefix (the GPU runner puts
    IPython and friends in ``--target /tmp/site`` and names it in PYTHONPATH); the worker
    needs those too (the sandbox binds them read-only), never an entry inside or above the
    folder holding ``grader``, the course or the data root.
    """
    kept = []
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and not touches_private(entry, private):
            kept.append(os.path.realpath(entry))
    return os.pathsep.join(dict.fromkeys(kept))


PACKAGE_ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def touches_private(path: str, private: tuple[str, ...] = ()) -> bool:
    """Whether ``path`` is, contains or lies inside the grader's checkout or a private path.

    >>> touches_private("/", ())
    True
    >>> touches_private(PACKAGE_ROOT + "/source", ())
    True
    >>> touches_private("/opt/site", ("/srv/course",))
    False
    """
    real = os.path.realpath(path)
    for root in (PACKAGE_ROOT, *private):
        root = os.path.realpath(root)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep) \
                or root.startswith(real.rstrip(os.sep) + os.sep):
            return True
    return False
