"""Work a student call starts does not outlive that call: end the processes it left behind.

Inside the sandbox's PID namespace, pid 1 is bubblewrap's init and pid 2 the worker that
answers requests; any other process was started by student code. When a request has been
answered, the trusted side looks at the sandbox from the host (``/proc``: every process
below bubblewrap, by parent pid, with its pid inside the namespace from ``NSpid``) and
SIGKILLs every process that is neither. A daemon that double-forked and called setsid is
still below bubblewrap (the namespace's init adopted it), so it is found too.

Threads inside the worker process are not processes and are not ended here (ps5 hands
the trained weights over to a fresh worker for that; see ``hidden/ps5_mnist_cnn.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal

KEEP = {1, 2}   # the namespace's init and the worker itself


def _table() -> dict[int, tuple[int, int | None]]:
    """host pid -> (parent host pid, innermost namespace pid)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        try:
            ppid = int(fields["PPid"])
            nspid = [int(v) for v in fields.get("NSpid", "").split()]
        except (KeyError, ValueError):
            continue
        out[int(name)] = (ppid, nspid[-1] if len(nspid) > 1 else None)
    return out


def strays(root: int) -> list[int]:
    """Host pids below ``root`` (bubblewrap) that are not the sandbox's init or worker."""
    table = _table()
    below, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - below
        below |= frontier
    return sorted(pid for pid in below if table[pid][1] is not None and table[pid][1] not in KEEP)


def end_strays(root: int) -> int:
    """SIGKILL what ``strays`` finds; how many there were."""
    found = strays(root)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(found)
