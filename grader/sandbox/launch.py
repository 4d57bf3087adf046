"""Starting one worker process: its code, its pipes, its sandbox, its memory cap.

The trusted side's host folder (``tmp``) holds the worker's code (bound read-only) and,
for root, the mount point of the staging tmpfs; a sandboxed worker writes only to its own
tmpfs, which vanishes with it. The protocol pipes are non-blocking on the trusted side, so
that every read and write keeps its deadline (``wire.write_frame``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import isolation
from .cgroup import MemoryCap
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
    host_uid: int | None        # root only: the host account this worker runs as


def launch(limits: Limits, python: str, tmp: Path) -> Launched:
    """Start ``worker.py`` under ``limits`` (bubblewrap unless ``limits.sandbox`` is off)."""
    os.chmod(tmp, 0o711)
    code = tmp / "code"
    code.mkdir(mode=0o755)
    for name in WORKER_FILES:
        shutil.copy2(HERE / name, code / name)
        os.chmod(code / name, 0o644)
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    out_r, out_w = os.pipe()
    args = [str(to_worker_r), str(from_worker_w), worker_settings(limits)]
    cap = MemoryCap.create(limits.host_memory_bytes)
    host_uid = None

    def preexec() -> None:
        if cap is not None:
            cap.enter()
        limits.preexec()

    try:
        if limits.sandbox:
            stage = tmp / "stage"
            stage.mkdir(mode=0o755)
            if os.geteuid() == 0:
                host_uid = isolation.HostUids.acquire(limits)
            cmd = isolation.command(limits, python, str(code), args, str(stage), host_uid=host_uid)
            home = isolation.HOME
        else:
            home = str(tmp / "home")
            os.mkdir(home, 0o700)
            cmd = [python, "-s", "-B", str(code / "worker.py"), *args]
        proc = subprocess.Popen(
            cmd, cwd=home if not limits.sandbox else "/", env=worker_env(limits, home),
            stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
            pass_fds=(to_worker_r, from_worker_w), start_new_session=True, preexec_fn=preexec,
        )
    except BaseException:
        for fd in (to_worker_w, from_worker_r, out_r):
            os.close(fd)
        if host_uid is not None:
            isolation.HostUids.release(host_uid)
        if cap is not None:
            cap.remove()
        raise
    finally:
        for fd in (to_worker_r, from_worker_w, out_w):
            os.close(fd)
    os.set_blocking(to_worker_w, False)
    os.set_blocking(from_worker_r, False)
    return Launched(proc, OutputTail(out_r, limits.log_bytes), to_worker_w, from_worker_r, cap, host_uid)
