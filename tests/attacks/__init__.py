"""Adversarial submissions against the worker sandbox (issue 9), with what must happen.

Each attack is the ps1 release with one answer cell replaced by the attack's code, written
by a student who has read the grader's source. The test substitutes the real paths
(``@COURSE@``, ``@REPO@``, ``@SITE@``, ``@DATA@``, ``@MARK@``), so every attack aims at the
right place. An attack that gets anything prints ``LEAKED:`` and, where it found reference
solutions, runs them (``_win``): the grader must then see points it did not compute.

Expected outcome for every attack (checked by ``tests/test_sandbox_attacks.py``): a score
of 0 (nothing is answered honestly), no ``LEAKED`` in any output, nothing changed outside
the worker's folder (the course, the checkout, the Python environment, the host's /tmp
and HOME), no process left behind, and the honest submissions in the same batch scored
exactly as when graded alone. ``stopped_by`` names the wall that holds, for the closing
note's table.
"""

from __future__ import annotations

from dataclasses import dataclass

PRELUDE = r'''
import ctypes, json, os, signal, socket, subprocess, sys, threading, time
COURSE, REPO, SITE, DATA, MARK = "@COURSE@", "@REPO@", "@SITE@", "@DATA@", "@MARK@"

def _leak(what, data=""):
    print(f"LEAKED: {what}: {str(data)[:200]!r}")

def _win(text):
    """Reference solutions in hand: run them, so points would follow."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and cell["cell_type"] == "code":
            src = "".join(cell["source"]).replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")
            exec(src, globals())
    _leak("reference solutions", text[:80])

def _try(fn, *args):
    try:
        return fn(*args)
    except BaseException as exc:  # noqa: BLE001 - attacks expect to fail
        return exc

def _read(path):
    with open(path, "rb") as f:
        return f.read()

def _steal(path):
    data = _try(_read, path)
    if isinstance(data, bytes):
        _leak(path, data[:60])
        if path.endswith(".ipynb") and b"BEGIN SOLUTION" in data:
            _win(data.decode())
    return data

def _plant(path, text=MARK):
    def go():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            f.write(text)
    return _try(go)

libc = ctypes.CDLL(None, use_errno=True)
'''

SRC = "@COURSE@/source/ps1_tensors/ps1_tensors.ipynb"

# Two workers of one batch try to meet: whichever comes second would find the other's trace.
RENDEZVOUS = (
    's = socket.socket(socket.AF_UNIX)\n'
    'if isinstance(_try(s.bind, "\\0grader-rendezvous"), OSError): _leak("abstract socket taken by another worker")\n'
    'shm = libc.shmget(0x5eed, 4096, 0o1666 | 0o2000)\n'
    'if shm < 0 and ctypes.get_errno() == 17: _leak("SysV segment of another worker")\n'
    'if os.path.exists("/dev/shm/grader-rendezvous"): _leak("/dev/shm shared")\n'
    '_plant("/dev/shm/grader-rendezvous")\n'
    'time.sleep(3)')


@dataclass(frozen=True)
class Attack:
    id: str
    what: str
    stopped_by: str
    code: str
    plants: tuple[str, ...] = ()      # host paths that must not exist afterwards
    later: str = ""                   # code for a later answer cell (take_columns), if any


ATTACKS: list[Attack] = [
    # ------------------------------------------------------------ reading what is secret
    Attack("read-course-source", "open the course's source notebook (reference solutions)",
           "allowlist: the course is never bound", f'_steal("{SRC}")'),
    Attack("read-checkout-source", "open the checkout's source notebook",
           "allowlist: the checkout is never bound",
           '_steal(REPO + "/source/ps1_tensors/ps1_tensors.ipynb")'),
    Attack("read-hidden-tests", "read the hidden tests and the grader's config",
           "allowlist: grader/ is never bound",
           '_steal(REPO + "/grader/hidden/ps1_tensors/__init__.py"); _steal(REPO + "/grader/config.py")'),
    Attack("import-grader", "import the grader package and its reference loader",
           "no grader on sys.path; editable finders point at unbound paths",
           'import importlib\nm = _try(importlib.import_module, "grader.notebooks.solutions")\n'
           'if not isinstance(m, BaseException): _leak("grader importable", m)'),
    Attack("read-gradebook", "read the gradebook", "allowlist",
           '_steal(COURSE + "/gradebook.db")'),
    Attack("read-other-submission", "read another student's submission", "allowlist",
           '_steal(COURSE + "/submitted/honest-1/ps1_tensors/ps1_tensors.ipynb")'),
    Attack("read-eval-seed", "read the course's secret evaluation seed", "allowlist",
           '_steal(COURSE + "/secrets/eval_seed")'),
    Attack("read-test-split", "read MNIST's test labels", "allowlist: the data root is never bound",
           '_steal(DATA + "/MNIST/raw/t10k-labels-idx1-ubyte")'),
    Attack("proc-root", "walk /proc/<pid>/root of every visible process into the course",
           "PID namespace and fresh /proc: only the worker's own processes",
           'for pid in os.listdir("/proc"):\n'
           '    if pid.isdigit():\n'
           f'        _steal(f"/proc/{{pid}}/root{SRC}")\n'
           '        _steal(f"/proc/{pid}/root" + REPO + "/grader/hidden/ps1_tensors/__init__.py")'),
    Attack("proc-environ", "read other processes' environment and working folder",
           "PID namespace; the worker's environment is built from scratch",
           'for pid in os.listdir("/proc"):\n'
           '    if pid.isdigit():\n'
           '        env = _try(_read, f"/proc/{pid}/environ")\n'
           '        if isinstance(env, bytes) and any(k in env for k in (b"EVAL_SEED", b"NBGRADER_DB", b"GRADER_COURSE", b"GRADER_HIDDEN", b"GRADER_DATA")):\n'
           '            _leak("environ", env)\n'
           '        cwd = _try(os.readlink, f"/proc/{pid}/cwd")\n'
           '        if isinstance(cwd, str) and cwd.startswith(COURSE):\n'
           '            _leak("cwd", cwd)\n'
           'if any(p.isdigit() and int(p) > 50 for p in os.listdir("/proc")): _leak("foreign pids", os.listdir("/proc"))'),
    Attack("umount-and-read", "undo the mounts (umount2 of /tmp, /, /usr) and read the course",
           "no capabilities: umount is refused; nothing hidden underneath anyway",
           'for target in (b"/tmp", b"/", b"/usr", b"/proc"):\n'
           '    if libc.umount2(target, 2) == 0: _leak("umounted", target)\n'
           f'_steal("{SRC}")'),
    Attack("mount-host", "mount a new proc or bind the old root", "no CAP_SYS_ADMIN",
           'os.makedirs("/tmp/m", exist_ok=True)\n'
           'if libc.mount(b"proc", b"/tmp/m", b"proc", 0, None) == 0:\n'
           '    _leak("mounted proc", os.listdir("/tmp/m"))\n'
           'if libc.mount(b"/", b"/tmp/m", None, 4096, None) == 0: _leak("bind /", os.listdir("/tmp/m"))'),
    Attack("new-user-namespace", "unshare a user namespace to regain capabilities, then mount",
           "bubblewrap --disable-userns",
           'CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000\n'
           'if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:\n'
           '    _leak("unshared a user namespace")\n'
           '    if libc.mount(b"tmpfs", b"/usr", b"tmpfs", 0, None) == 0: _leak("mounted over /usr")'),
    Attack("chroot-escape", "chroot out through a directory fd and read the course", "no CAP_SYS_CHROOT",
           'os.makedirs("/tmp/jail", exist_ok=True)\n'
           'if libc.chroot(b"/tmp/jail") == 0:\n'
           '    for _ in range(20): os.chdir("..")\n'
           '    libc.chroot(b".")\n'
           f'    _steal("{SRC}")'),
    Attack("symlink-escape", "plant symlinks into the course and read through them",
           "the course does not exist inside, so links lead nowhere",
           '_try(os.symlink, COURSE, "/tmp/course-link")\n'
           '_steal("/tmp/course-link/source/ps1_tensors/ps1_tensors.ipynb")\n'
           '_try(os.symlink, "/proc/1/root" + COURSE, "/tmp/proc-link")\n'
           '_steal("/tmp/proc-link/gradebook.db")'),
    Attack("search-everything", "walk the whole visible file system for notebooks, seeds, databases",
           "allowlist: only the interpreter, its packages and /usr are there",
           'for top in ("/",):\n'
           '    for dirpath, dirs, files in os.walk(top):\n'
           '        if dirpath.startswith(("/proc", "/sys", "/usr", "/dev")) or "site-packages" in dirpath:\n'
           '            dirs[:] = []\n'
           '            continue\n'
           '        for f in files:\n'
           '            if f in ("ps1_tensors.ipynb", "gradebook.db", "eval_seed") or f.endswith("-ubyte"):\n'
           '                _steal(os.path.join(dirpath, f))'),
    Attack("raw-devices", "read a raw disk or memory device", "minimal /dev (null, zero, random, tty...)",
           'for d in os.listdir("/dev"):\n'
           '    if d.startswith(("sd", "vd", "nvme", "xvd", "loop", "mem", "kmem", "port", "dm-")):\n'
           '        _steal("/dev/" + d)'),
    Attack("inherited-fds", "use file descriptors inherited from the grader",
           "only the two protocol pipes and stdio are passed in",
           'for fd in os.listdir("/proc/self/fd"):\n'
           '    target = _try(os.readlink, f"/proc/self/fd/{fd}")\n'
           '    if isinstance(target, str) and target.startswith("/") and not target.startswith(("/dev/", "/proc/", "/tmp", "/usr", SITE.rsplit("/lib/", 1)[0], sys.base_prefix)):\n'
           '        _leak("fd", target)'),
    Attack("network", "open connections (the internet, the grader's host)", "network namespace: no interfaces",
           'for addr in (("1.1.1.1", 53), ("127.0.0.1", 22), ("127.0.0.1", 8000), ("10.0.0.1", 80)):\n'
           '    s = socket.socket(); s.settimeout(1)\n'
           '    if _try(s.connect, addr) is None: _leak("connected", addr)\n'
           '    s.close()'),
    Attack("rendezvous-a", "meet another worker through an abstract socket, SysV shm or /dev/shm",
           "separate network, IPC and mount namespaces per worker", RENDEZVOUS),
    Attack("rendezvous-b", "the other half of the rendezvous", "separate namespaces per worker",
           RENDEZVOUS),
    # ------------------------------------------------------------ writing outside its folder
    Attack("plant-in-python-env", "plant sitecustomize and a .pth file in the grader's environment",
           "read-only bind of the environment",
           '_plant(SITE + "/sitecustomize.py", "print(\'planted\')\\n")\n'
           '_plant(SITE + "/zz_planted_@MARK@.pth", "import os\\n")\n'
           '_plant(SITE + "/torch/__pycache__/planted_@MARK@.pyc")\n'
           '_plant(sys.base_prefix + "/lib/python3.11/planted_@MARK@.py")',
           plants=("@SITE@/zz_planted_@MARK@.pth", "@SITE@/torch/__pycache__/planted_@MARK@.pyc")),
    Attack("plant-in-grader", "rewrite the hidden tests and the grader's code", "the checkout is never bound",
           '_plant(REPO + "/grader/hidden/ps1_tensors/__init__.py", "\\nPLANTED = 1\\n")\n'
           '_plant(REPO + "/grader/planted_@MARK@.py")',
           plants=("@REPO@/grader/planted_@MARK@.py",)),
    Attack("rewrite-course", "rewrite the gradebook, results and another student's submission",
           "the course is never bound",
           '_plant(COURSE + "/gradebook.db")\n'
           '_plant(COURSE + "/autograded/.grader/ps1_tensors/honest-1.json")\n'
           '_plant(COURSE + "/submitted/honest-1/ps1_tensors/ps1_tensors.ipynb")\n'
           '_plant(COURSE + "/planted_@MARK@")',
           plants=("@COURSE@/planted_@MARK@",)),
    Attack("write-home-and-tmp", "write into HOME, /tmp and /root as if they were the host's",
           "HOME and /tmp are the worker's own tmpfs; /root is not writable",
           '_plant(os.path.expanduser("~/.bashrc"))\n'
           '_plant("/tmp/planted_@MARK@")\n'
           '_plant("/root/planted_@MARK@")\n'
           '_plant("/var/tmp/planted_@MARK@")\n'
           '_plant("/usr/lib/planted_@MARK@")',
           plants=("/tmp/planted_@MARK@", "/root/planted_@MARK@", "/var/tmp/planted_@MARK@",
                   "/usr/lib/planted_@MARK@")),
    # ------------------------------------------------------------ processes
    Attack("daemon-outlives", "a double-forked, setsid daemon that edits results after grading",
           "PID namespace: every process dies with the worker",
           'if os.fork() == 0:\n'
           '    os.setsid()\n'
           '    if os.fork() == 0:\n'
           '        for _ in range(600):\n'
           '            time.sleep(0.1)\n'
           '            _plant(COURSE + "/autograded/.grader/ps1_tensors/honest-1.json")\n'
           '            _plant("/tmp/daemon_@MARK@")\n'
           '        os._exit(0)\n'
           '    os._exit(0)\n'
           'subprocess.Popen(["/bin/sh", "-c", "sleep 300; echo @MARK@"], start_new_session=True)\n'
           'time.sleep(0.5)'),
    Attack("signal-grader", "kill the parent, every visible process and process group -1",
           "PID namespace: the grader and other workers have no pid here",
           'for sig in (signal.SIGKILL,):\n'
           '    _try(os.kill, os.getppid(), sig)\n'
           '    for pid in os.listdir("/proc"):\n'
           '        if pid.isdigit() and int(pid) != os.getpid(): _try(os.kill, int(pid), sig)'),
    Attack("kill-everything", "kill(-1): every process the worker may signal",
           "PID namespace (it can only end itself)",
           '_try(os.kill, -1, signal.SIGKILL)'),
    Attack("ptrace-parent", "attach to the parent with ptrace to read its memory",
           "PID namespace and no CAP_SYS_PTRACE",
           'PTRACE_ATTACH = 16\n'
           'for pid in [os.getppid(), 1] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:\n'
           '    if pid != os.getpid() and libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:\n'
           '        cmd = _try(_read, f"/proc/{pid}/cmdline")\n'
           '        # not outside: bubblewrap init, a forked worker holder (tracing them ends the worker)\n'
           '        if isinstance(cmd, bytes) and b"worker.py" not in cmd and b"holder" not in cmd:\n'
           '            _leak("ptrace", cmd)'),
    Attack("fork-bomb", "fork until the machine stops", "RLIMIT_NPROC inside the user namespace",
           'children = 0\n'
           'try:\n'
           '    while True:\n'
           '        if os.fork() == 0:\n'
           '            time.sleep(30); os._exit(0)\n'
           '        children += 1\n'
           'except OSError:\n'
           '    print("fork refused after", children)'),
    Attack("thread-bomb", "start threads until the machine stops", "RLIMIT_NPROC counts threads",
           'threads = []\n'
           'try:\n'
           '    while True:\n'
           '        t = threading.Thread(target=time.sleep, args=(30,), daemon=True); t.start(); threads.append(t)\n'
           'except (RuntimeError, OSError):\n'
           '    print("thread refused after", len(threads))'),
    # ------------------------------------------------------------ resources
    Attack("huge-memory", "allocate more memory than the machine has", "RLIMIT_AS",
           'blocks = []\n'
           'try:\n'
           '    while True:\n'
           '        blocks.append(bytearray(512 * 1024 * 1024))\n'
           'except MemoryError:\n'
           '    print("memory refused after", len(blocks), "blocks")\n'
           'del blocks'),
    Attack("huge-file", "write a file of 2 GB", "RLIMIT_FSIZE and the size-capped tmpfs",
           'import signal as _s\n_s.signal(_s.SIGXFSZ, _s.SIG_IGN)\n'
           'def big():\n'
           '    with open("/tmp/big", "wb") as f:\n'
           '        for _ in range(2048): f.write(b"x" * 2**20)\n'
           'print("big file:", _try(big))\n'
           'def many():\n'
           '    for i in range(100):\n'
           '        with open(f"/tmp/f{i}", "wb") as f: f.write(b"y" * 200 * 2**20)\n'
           'print("many files:", _try(many))\n'
           '_try(lambda: [os.remove("/tmp/" + n) for n in os.listdir("/tmp") if n.startswith(("big", "f"))])'),
    Attack("output-flood", "print 100 MB, through print and straight to fd 1 and 2",
           "captured prints are capped per cell; raw output is drained and capped",
           'chunk = "z" * 1_000_000\n'
           'for _ in range(50): print(chunk)\n'
           'for _ in range(50): os.write(1, chunk.encode()); os.write(2, chunk.encode())'),
    Attack("huge-return", "return 800 MB from a student function", "max_result_bytes per reply",
           'import torch\n'
           'def rank_and_shape(t):\n'
           '    return torch.zeros(200_000_000)'),
    Attack("deep-return", "return a value nested 100,000 deep, and forge a deeply nested frame",
           "depth limits in the encoder and the trusted decoder (RecursionError -> WireError)",
           'import wire\n'
           'def take_columns(t, start, stop):\n'
           '    v = []\n'
           '    for _ in range(100_000): v = [v]\n'
           '    return v\n'
           'def rank_and_shape(t):\n'
           '    body = ("[" * 200_000 + "]" * 200_000).encode()\n'
           '    os.write(int(sys.argv[2]), wire.HEADER.pack(len(body), 0) + body)\n'
           '    time.sleep(5)'),
    Attack("sleep-past-timeout", "sleep far past every timeout, in a cell and in a call",
           "wall-clock timeouts per cell and per call",
           'def rank_and_shape(t):\n    time.sleep(10_000)\n'
           'def take_columns(t, a, b):\n    while True: pass\n'
           'time.sleep(10_000)'),
    # ------------------------------------------------------------ found by the red team
    Attack("fill-sandbox-root", "fill the sandbox's own root, /dev and any folder but /tmp",
           "the new root and /dev are remounted read-only; /tmp and /dev/shm are size-capped",
           'for d in ("/", "/dev", "/work", "/root", "/opt"):\n'
           '    def fill(d=d):\n'
           '        with open(os.path.join(d, "filler"), "wb") as f:\n'
           '            for _ in range(256): f.write(b"f" * 2**20)\n'
           '    if _try(fill) is None: _leak("wrote 256 MB into", d)'),
    Attack("stall-reads", "read part of the next request, then stop, so the grader blocks writing it",
           "the trusted ends are non-blocking and every write keeps its deadline",
           '_rx = __import__("wire")._read_exact\n'
           'def _stall(fd, *a, **k):\n'
           '    _rx(fd, 8); _rx(fd, 16384); time.sleep(3600)\n'
           '__import__("wire").read_frame = _stall',
           later="# " + "padding " * 40_000 + "\n"),
    Attack("forge-replies", "write the worker's replies by hand: a 2 GiB NumPy void, a forged callback",
           "strict decoding on the trusted side; callbacks only for the call they were passed to",
           'import wire\n'
           'def _self():\n'
           '    f = sys._getframe()\n'
           '    while f is not None:\n'
           '        s = f.f_locals.get("self")\n'
           '        if s is not None and hasattr(s, "rfd") and hasattr(s, "handles"): return s\n'
           '        f = f.f_back\n'
           'def rank_and_shape(t):\n'
           '    s = _self()\n'
           '    value = [{"$npscalar": "V2147483647", "value": 1}] * 1000\n'
           '    wire.write_frame(s.wfd, wire.pack({"kind": "ok", "rid": s.rid, "value": value}))\n'
           '    time.sleep(5)\n'
           'def take_columns(t, start, stop):\n'
           '    import torch\n'
           '    s, enc = _self(), wire.Encoder()\n'
           '    frame = {"kind": "callback", "id": 999, "rid": s.rid, "args": [], "kwargs": {"$dict": []},\n'
           '             "sync": enc.encode({"a0": torch.zeros_like(t)})}\n'
           '    wire.write_frame(s.wfd, wire.pack(frame, enc.tensors)); wire.read_frame(s.rfd)\n'
           '    return torch.zeros_like(t)[:, start:stop]'),
    Attack("exit-worker", "end the worker from a cell with os._exit and sys.exit",
           "the session restarts the worker and skips the cell",
           'def rank_and_shape(t):\n    os._exit(3)\n'
           'sys.exit(0)'),
]


def edit_locked_cells(nb) -> None:
    """Rewrite the public tests and the points in the metadata (restored from source)."""
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.source = "pass"
            meta["points"] = 1000
        if meta.get("grade_id") == "one_hot":
            meta["points"] = 1000
            meta["grade_id"] = "rank_and_shape_extra"
