"""OS-level isolation for a worker on Linux: no network, and the course hidden from it.

The worker starts inside fresh mount and network namespaces (``unshare``). There, every
top-level entry of the course directory except the Python environment is covered (a
private empty tmpfs over folders, /dev/null over files), and so is the MNIST data root:
student code cannot read hidden tests, reference solutions, the gradebook, other
students' submissions, the test split or the evaluation seed. Where namespaces are not
available (macOS, a locked-down container) the worker runs without, and the result says so.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path


@cache
def namespaces_available() -> bool:
    exe = shutil.which("unshare")
    if exe is None or os.environ.get("GRADER_NO_NAMESPACES"):
        return False
    probe = [exe, "--mount", "--net", "--fork", "--kill-child", "--propagation", "private",
             "sh", "-c", "mount -t tmpfs -o size=4k none /mnt 2>/dev/null || mount -t tmpfs -o size=4k none /tmp"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def paths_to_hide(course_root: Path, keep: list[Path], extra: list[Path]) -> list[Path]:
    """Everything under the course root but what the worker needs to start Python."""
    keep_resolved = [k.resolve() for k in keep]
    hidden: list[Path] = []
    if course_root.is_dir():
        for entry in sorted(course_root.iterdir()):
            resolved = entry.resolve()
            if any(resolved == k or k.is_relative_to(resolved) or resolved.is_relative_to(k)
                   for k in keep_resolved):
                continue
            hidden.append(entry)
    for p in extra:
        if p.exists() and not any(p.resolve().is_relative_to(h.resolve()) for h in hidden):
            hidden.append(p)
    return hidden


def wrapper(hide: list[Path]) -> tuple[str, ...]:
    """A command prefix that runs the rest of the command line isolated."""
    steps = []
    for p in hide:
        q = shlex.quote(str(p))
        if p.is_dir():
            steps.append(f"mount -t tmpfs -o size=4k,mode=000 none {q}")
        else:
            steps.append(f"mount --bind /dev/null {q}")
    script = " && ".join([*steps, 'exec "$@"'])
    return ("unshare", "--mount", "--net", "--fork", "--kill-child", "--propagation", "private",
            "sh", "-c", script, "sh")
