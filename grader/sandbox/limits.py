"""Resource limits and the environment a worker starts with.

This is the portable part of the sandbox (POSIX rlimits, a clean environment, a private
working directory). An OS-level sandbox (namespaces, no network, read-only mounts) wraps
the same command line through ``Limits.wrapper`` without changing the protocol.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """What one worker may use. ``None`` leaves a limit at the system default."""

    call_timeout_s: float = 60.0          # one request (a cell batch, a call)
    notebook_timeout_s: float = 600.0     # executing the whole notebook
    memory_bytes: int | None = 12 * 1024**3   # address space; generous because of CUDA/torch
    cpu_seconds: int | None = 3600
    file_bytes: int | None = 256 * 1024**2
    open_files: int | None = 1024
    max_processes: int | None = None      # RLIMIT_NPROC is per user; the OS sandbox owns this
    threads: int = 2                      # intra-op threads for torch/OpenMP in the worker
    cuda_device: str | None = ""          # "" hides all GPUs; "0" gives slot 0
    cuda_memory_fraction: float | None = None
    max_result_bytes: int = 512 * 1024**2
    isolate: bool = True                  # namespaces: no network, course hidden (Linux)
    hide_paths: tuple[str, ...] = ()      # more paths to hide (e.g. the MNIST data root)
    wrapper: tuple[str, ...] = field(default=())  # replaces the built-in isolation entirely

    def preexec(self) -> None:
        """Runs in the child between fork and exec: apply the rlimits."""
        pairs = [
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_NPROC, self.max_processes),
            (resource.RLIMIT_CORE, 0),
        ]
        for which, value in pairs:
            if value is None:
                continue
            _soft, hard = resource.getrlimit(which)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (cap, cap))


def worker_env(limits: Limits, workdir: str, course_root: str) -> dict[str, str]:
    """A minimal environment: nothing of the grader's own configuration leaks in."""
    # The loader path and CUDA's own variables are the machine's, not the grader's: GPU
    # images often find the driver's libcuda through LD_LIBRARY_PATH alone.
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "LD_LIBRARY_PATH", "CUDA_HOME",
            "CUDA_PATH", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    threads = str(max(1, limits.threads))
    env.update(
        HOME=workdir,
        TMPDIR=workdir,
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        NBGRADER_EXECUTION="autograde",
        GRADER_HIDE_ROOT=course_root,
        CUBLAS_WORKSPACE_CONFIG=":4096:8",
    )
    path = worker_python_path(course_root)
    if path:
        env["PYTHONPATH"] = path
    if limits.cuda_device is not None:
        env["CUDA_VISIBLE_DEVICES"] = limits.cuda_device
    if limits.cuda_memory_fraction is not None:
        env["GRADER_CUDA_MEMORY_FRACTION"] = f"{limits.cuda_memory_fraction:.4f}"
    return env


def worker_python_path(course_root: str) -> str:
    """The grader's own PYTHONPATH minus anything inside the course.

    Some machines install packages outside the interpreter's prefix (the GPU runner puts
    IPython and friends in ``--target /tmp/site`` and names it in PYTHONPATH); the worker
    needs those too, but never an entry that leads back to the grader or the course.
    """
    root = os.path.realpath(course_root)
    kept = []
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if not entry:
            continue
        real = os.path.realpath(entry)
        if real == root or real.startswith(root + os.sep):
            continue
        kept.append(real)
    return os.pathsep.join(dict.fromkeys(kept))
