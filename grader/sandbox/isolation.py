"""The OS sandbox around a worker: bubblewrap, an allowlisted file system, no way back.

Why bubblewrap: it is the small, audited tool Flatpak relies on, Debian ships it
(package ``bubblewrap``), and it works for an ordinary account through user namespaces,
so the same sandbox holds for root on a GPU runner and for a JupyterHub instructor.

What the worker gets (``command``):

- new user, PID, network, IPC, UTS and (where possible) cgroup namespaces; inside, an
  unprivileged uid/gid with every capability dropped and no further user namespaces;
  ``--die-with-parent`` and ``--new-session``; a fresh ``/proc`` that lists only its own
  processes and a minimal ``/dev``;
- a file system that is an allowlist: read-only binds of ``/usr`` (with the merged-/usr
  links), the loader cache, the interpreter's prefix, the environment's prefix, PYTHONPATH
  entries that lie outside the course, and the two files of worker code; one size-capped
  tmpfs at ``/tmp`` that is its cwd, HOME and TMPDIR (read-only binds of folders that live
  under the host's /tmp sit on top of it) and a size-capped ``/dev/shm``; the new root and
  ``/dev`` themselves are remounted read-only. Nothing of the course, the data root, the trusted process or another
  worker exists inside: they are simply never bound;
- on CUDA, the NVIDIA device nodes (``/dev/nvidia*``, ``/dev/nvidia-caps``) and ``/sys``
  read-only (the driver reads PCI topology there); the driver's user-space libraries are
  found under ``/usr`` or through ``LD_LIBRARY_PATH`` entries, which are bound read-only.

When the grader runs as root, the worker must not: root's user namespace maps the
sandbox's uid back to host root, for whom the kernel does not enforce ``RLIMIT_NPROC``.
The grader then drops to a host uid of the worker's own (``HostUids``: no two live workers
share one, so per-user kernel limits such as inotify instances are not shared either)
with ``setpriv`` before starting bubblewrap. Paths that account cannot reach (an interpreter under ``/root``) are first
bound read-only into a private staging tmpfs in a throw-away mount namespace, and
bubblewrap binds them from there.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import ClassVar

from .limits import PACKAGE_ROOT, Limits, outside_python_path, touches_private

SANDBOX_UID = 1000                  # the worker's uid and gid inside the sandbox
HOME = "/tmp"                       # its one writable folder (cwd, HOME, TMPDIR)
CODE = "/opt/grader-worker"         # client.WORKER_FILES, read-only
INSTALL_HINT = ("install the Debian package bubblewrap (`sudo apt-get install bubblewrap`, "
                "or `bash scripts/install.sh` as root)")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


def is_root() -> bool:
    return os.geteuid() == 0


@cache
def probe() -> str | None:
    """``None`` when the sandbox works here, else why not (cached for the process).

    It starts ``/bin/true`` the way ``command`` starts a worker (for root: staging mount,
    ``setpriv``, then bubblewrap), so a machine that cannot do one of the steps is caught.
    """
    exe = shutil.which("bwrap")
    if exe is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    inner = [exe, *_namespaces(), "--ro-bind", "/usr", "/usr", *_merged_usr(),
             "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    with tempfile.TemporaryDirectory(prefix="grader-probe-") as tmp:
        os.chmod(tmp, 0o711)
        argv = _as_host_uid(Limits().host_uid, inner, [], tmp) if is_root() else inner
        try:
            done = subprocess.run(argv, capture_output=True, timeout=20)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bubblewrap could not start ({exc})"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip()[-300:]
        return (f"bubblewrap cannot create its namespaces here ({why}); unprivileged user "
                "namespaces must be enabled (sysctl kernel.unprivileged_userns_clone=1 or "
                "user.max_user_namespaces > 0), and root needs CAP_SYS_ADMIN for its staging mount")
    return None


def available() -> bool:
    return probe() is None


def _namespaces() -> list[str]:
    return ["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--hostname", "sandbox", "--disable-userns",
            "--cap-drop", "ALL", "--die-with-parent", "--new-session"]


def _merged_usr() -> list[str]:
    """/bin, /lib... as on the host: links into /usr (merged /usr) or read-only binds."""
    out: list[str] = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            out += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            out += ["--ro-bind", name, name]
    return out


def python_roots(python: str) -> list[str]:
    """The folders the interpreter and its environment live in (read-only in the sandbox)."""
    roots = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(python))]
    real = [os.path.realpath(r) for r in roots]
    # Keep the outermost folders only.
    return sorted({r for r in real if not any(r != o and r.startswith(o.rstrip("/") + "/")
                                                for o in real)})


def read_only_sources(limits: Limits, python: str) -> list[str]:
    """Every host folder bound read-only besides /usr, outermost first, none private."""
    private = limits.private_paths
    sources = python_roots(python)
    sources += [e for e in outside_python_path(private).split(os.pathsep) if e]
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if entry and os.path.isdir(entry) and not touches_private(entry, private):
            sources.append(os.path.realpath(entry))
    for extra in limits.extra_ro_paths:
        if touches_private(extra, private):
            raise SandboxUnavailable(f"refusing to bind {extra} into the worker: it is part of "
                                     "the grader, the course or the data root")
        if os.path.exists(extra):
            sources.append(os.path.realpath(extra))
    outer = [s for s in dict.fromkeys(sources)
             if not any(s != o and s.startswith(o.rstrip("/") + "/") for o in sources)]
    for src in outer:
        if _contains_private(src, private):
            raise SandboxUnavailable(f"refusing to bind {src} into the worker: it contains the "
                                     "grader, the course or the data root (keep the Python "
                                     "environment in a folder of its own)")
    return [s for s in outer if s != "/usr" and not s.startswith("/usr/")]


def _contains_private(src: str, private: tuple[str, ...]) -> bool:
    for root in (PACKAGE_ROOT, *private):
        root = os.path.realpath(root)
        if root == src or root.startswith(src.rstrip("/") + "/"):
            return True
    return False


def _devices(limits: Limits) -> list[str]:
    return [] if limits.cuda_device in (None, "") else sorted(glob.glob("/dev/nvidia*"))


def _cuda_binds(limits: Limits) -> list[str]:
    out: list[str] = []
    for node in _devices(limits):
        out += ["--dev-bind", node, node]
    if out and os.path.isdir("/sys"):
        out += ["--ro-bind", "/sys", "/sys"]
    return out


class HostUids:
    """Host uids for root's workers, one per live worker on this machine, from
    ``Limits.host_uid`` on.

    Taken across processes, not only threads: two graders on one machine (a batch and a
    calibration, two courses) must not hand the same uid to two live workers. Each taken
    uid holds an exclusive ``flock`` on a file of its own in a root-only folder; the
    kernel drops the lock when the holder closes it or dies, so nothing leaks.
    """

    _lock = threading.Lock()
    _held: ClassVar[dict[int, int]] = {}     # uid -> the fd holding its lock

    @staticmethod
    def _folder() -> Path:
        folder = Path(tempfile.gettempdir()) / "grader-host-uids"
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder

    @classmethod
    def acquire(cls, limits: Limits) -> int:
        import fcntl

        folder = cls._folder()
        with cls._lock:
            for uid in range(limits.host_uid, limits.host_uid + limits.host_uids):
                if uid in cls._held:
                    continue
                fd = os.open(folder / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)      # another grader's live worker has it
                    continue
                cls._held[uid] = fd
                return uid
        raise SandboxUnavailable(f"more than {limits.host_uids} workers at once")

    @classmethod
    def release(cls, uid: int) -> None:
        with cls._lock:
            fd = cls._held.pop(uid, None)
        if fd is not None:
            os.close(fd)


def command(limits: Limits, python: str, code_dir: str, worker_args: list[str],
            stage_dir: str, host_uid: int | None = None,
            program: list[str] | None = None) -> list[str]:
    """The full command line that starts ``worker.py`` inside the sandbox.

    ``code_dir`` holds the worker's files (``client.WORKER_FILES``) on the host; ``stage_dir`` is an empty
    host folder the root path may use for staging (see the module docstring). ``program``
    runs instead of the worker (``prefork``'s holder) in the very same sandbox.
    """
    why = probe()
    if why is not None:
        raise SandboxUnavailable(why)
    sources = read_only_sources(limits, python)
    root = is_root()
    binds: list[str] = []
    staged: list[tuple[str, str]] = []
    for i, src in enumerate([*sources, code_dir]):
        dest = CODE if src == code_dir else src
        if root:
            staged.append((src, f"{stage_dir}/{i}"))
            src = f"{stage_dir}/{i}"
        binds += ["--ro-bind", src, dest]
    bwrap = [
        shutil.which("bwrap") or "bwrap", *_namespaces(),
        "--ro-bind", "/usr", "/usr", *_merged_usr(),
        "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--ro-bind-try", "/etc/localtime", "/etc/localtime",
        "--size", str(limits.workdir_bytes), "--perms", "0700", "--tmpfs", HOME,
        *binds,
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm",
        *_cuda_binds(limits),
        # bubblewrap builds the new root and /dev as tmpfs the sandbox uid owns: read-only,
        # so that /tmp and /dev/shm (each size-capped) are the only places to write.
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--chdir", HOME,
        "--", *(program or [python, "-s", "-B", f"{CODE}/worker.py", *worker_args]),
    ]
    if not root:
        return bwrap
    return _as_host_uid(limits.host_uid if host_uid is None else host_uid, bwrap, staged, stage_dir)


def _as_host_uid(uid: int, bwrap: list[str], staged: list[tuple[str, str]],
                 stage_dir: str) -> list[str]:
    """For root: stage the binds in a private mount namespace, drop to ``uid``, run bwrap."""
    drop = [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}",
            "--clear-groups", "--no-new-privs"]
    steps = [f"mount -t tmpfs -o size=64k,mode=0755 grader-stage {shlex.quote(stage_dir)}"]
    for src, dest in staged:
        kind = "mkdir" if os.path.isdir(src) else "touch"
        steps += [f"{kind} {shlex.quote(dest)}",
                  f"mount --bind {shlex.quote(src)} {shlex.quote(dest)}",
                  f"mount -o remount,bind,ro {shlex.quote(dest)}"]
    steps.append('exec "$@"')
    return [shutil.which("unshare") or "unshare", "--mount", "--propagation", "private",
            "sh", "-ec", " && ".join(steps), "sh", *drop, *bwrap]


def describe(limits: Limits, python: str) -> dict:
    """What the sandbox binds, for docs and the GPU check (no secrets: paths only)."""
    return {"read_only": ["/usr", *read_only_sources(limits, python)],
            "devices": _devices(limits),
            "writable": [HOME, "/dev/shm"],
            "host_uids": [limits.host_uid, limits.host_uid + limits.host_uids - 1] if is_root()
            else [os.getuid(), os.getuid()]}
