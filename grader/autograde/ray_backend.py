"""A course batch on a Ray cluster: the same per-submission task, past one machine.

Why: one machine's GPUs run out before a large class does (SPEC section 6). Ray schedules
tasks over many nodes with fractional GPU resources, which is exactly the shape of our GPU
shares, and needs no scheduler or shared file system of our own. It is an optional extra
(``pip install -e '.[ray]'``); nothing imports it unless ``--backend ray`` is asked for.

What travels, and who writes what: the driver (this process, ``autograde``) reads each
submission and sends its bytes with their sha256, the run's ``Settings`` and profile to a
Ray task. The task writes the bytes to a private temporary folder on its node and grades
that copy with ``batch.grade_task``, the function the local pool calls, in the usual
bubblewrap worker there. It sends back the ``GradeResult`` as a JSON string built by
trusted code (``GradeResult.to_json``): nothing that came out of a student's process is
ever a Python object, and a failure comes back as a line of text. The driver checks that
the result is of the very bytes it sent (digest), saves the result file, and only the
driver records the gradebook afterwards (phase 2 of ``autograde``, unchanged). A notebook
over the size limit is refused unread by the grader, so it is "graded" on the driver and
never crosses the network.

What a node needs (the assumption): the same checkout of the course and of this package at
the same path, in the same environment (Python, torch, ray), bubblewrap, and MNIST under
the driver's data root (ps5). The driver passes its course root, data root and hidden
seed, and the secret evaluation seed when it has one (so ``secrets/`` stays on the
driver); a node that lacks the course's source notebook, the data the driver has, or a
working sandbox fails its task with a message naming the node, rather than grade
differently. Nodes are trusted like the driver (Ray's own transport is pickle); student
code stays inside the sandbox on its node.

Resources: on CUDA a task asks for ``1/workers_per_gpu`` of a GPU; Ray picks the card
(``ray.get_gpu_ids``) and the task's worker gets that card with the same memory share the
local pool gives (``gpu_slots.memory_share``). On the CPU a task asks for one CPU. At most
``jobs`` tasks are in flight (``ray.wait`` keeps the window). A task whose node dies is
retried once (``RETRIES``), then counts as that student's failure; the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import tempfile
from pathlib import Path

from .. import config
from ..data import mnist
from ..results import GradeResult
from .batch import Progress, Task, grade_task
from .gpu_slots import memory_share

INSTALL_HINT = "pip install -e '.[ray]'"
RETRIES = 1   # a node lost mid-task costs one retry; a submission that takes nodes down, two nodes


class RayBackendError(RuntimeError):
    """Ray is missing, the cluster cannot be reached, or it lacks what the run asks for."""


def import_ray():
    """The ``ray`` module, or a ``RayBackendError`` that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayBackendError(f"--backend ray needs Ray, an optional extra: {INSTALL_HINT} "
                              f"(import ray failed: {exc})") from None
    return ray


def grade_on_ray(todo: list[Task], assignment: str, done: dict[str, GradeResult], *,
                 jobs: int, device: str, settings: config.Settings, progress: bool,
                 workers_per_gpu: int | None, sandbox: bool, profile: config.Profile | None,
                 address: str | None) -> None:
    """Grade ``todo`` on Ray, at most ``jobs`` at once, into ``done`` (student -> result),
    saving each result file here. Connects to ``address`` (``ray.init``'s: without one,
    ``$RAY_ADDRESS``, the cluster this machine joined, else a new local Ray) unless this
    process is connected already, and disconnects at the end if it connected."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address)
        except Exception as exc:
            raise RayBackendError(f"could not start or reach Ray at {address or 'a local instance'}: "
                                  f"{type(exc).__name__}: {exc}") from None
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        profile = profile or config.PROFILES["gpu" if _wants_cuda(device, gpus) else "cpu"]
        per_gpu, resources = task_resources(profile, gpus, jobs, workers_per_gpu)
        remote = ray.remote(max_retries=RETRIES, **resources)(grade_on_node)
        shipped = _for_nodes(settings)
        data = _data_files(settings.data_root)
        bar, pending, queue = Progress(todo, f"grading {assignment}", progress), {}, list(reversed(todo))

        def send(task: Task) -> GradeResult | None:
            """Start a task on a node; None, or the result when it was graded here."""
            if task.notebook.stat().st_size > config.SUBMISSION_MAX_BYTES:
                # refused unread (grade.runner.read_submission): no worker starts for it, so
                # it is graded here, and its bytes do not cross the network
                return grade_task(task, assignment, settings=settings, profile=profile,
                                  sandbox=sandbox)
            payload = task.notebook.read_bytes()
            ref = remote.remote(payload, task.notebook.name, task.student, assignment,
                                shipped, profile, sandbox, per_gpu, data)
            pending[ref] = (task, hashlib.sha256(payload).hexdigest())
            return None

        while queue or pending:
            while queue and len(pending) < max(1, jobs):
                task = queue.pop()
                try:
                    here = send(task)
                except Exception as exc:   # unreadable now: this student's failure, as locally
                    bar.finished(task, _raises(exc), done)
                    continue
                if here is not None:
                    bar.finished(task, lambda here=here: here, done)
            if not pending:
                continue
            [ref], _ = ray.wait(list(pending), num_returns=1)
            task, sent = pending.pop(ref)
            bar.finished(task, lambda ref=ref, task=task, sent=sent:
                         _received(ray.get(ref), task, sent), done)
        bar.close()
    finally:
        if started:
            ray.shutdown()


def task_resources(profile: config.Profile, gpus: float, jobs: int,
                   workers_per_gpu: int | None) -> tuple[int, dict[str, float]]:
    """Workers per GPU and what each task asks Ray for, on a cluster with ``gpus`` GPUs.

    >>> task_resources(config.PROFILES["gpu"], 2, 8, None)
    (4, {'num_gpus': 0.25, 'num_cpus': 1})
    >>> task_resources(config.PROFILES["cpu"], 0, 8, None)
    (1, {'num_cpus': 1})
    """
    if profile.device != "cuda":
        return 1, {"num_cpus": 1}
    if not gpus:
        raise RayBackendError("--device cuda, but the Ray cluster has no GPU")
    per_gpu = workers_per_gpu or max(1, math.ceil(jobs / gpus))   # as the local pool spreads
    return per_gpu, {"num_gpus": 1 / per_gpu, "num_cpus": 1}


def _wants_cuda(device: str, gpus: float) -> bool:
    """``auto`` means CUDA when the cluster has GPUs (the driver itself may have none)."""
    return device == "cuda" or (device == "auto" and gpus > 0)


def _for_nodes(settings: config.Settings) -> config.Settings:
    """The settings a node grades with: the driver's, with the secret evaluation seed in
    them when the driver has one, so that ``secrets/`` need not be on any node."""
    seed, secret = settings.eval_seed()
    if secret and settings.eval_seed_override is None:
        from dataclasses import replace

        return replace(settings, eval_seed_override=seed)
    return settings


def _data_files(root: Path) -> dict[str, int]:
    """The MNIST files under the data root and their sizes (a node must have the driver's)."""
    raw = mnist.raw_dir(root)
    return {name: (raw / name).stat().st_size for name in mnist.FILES if (raw / name).is_file()}


def _raises(exc: Exception):
    """An outcome for ``Progress.finished`` that is this failure."""
    def outcome():
        raise exc
    return outcome


def _received(reply: str, task: Task, sent: str) -> GradeResult:
    """The driver's side: the node's reply, checked, saved, as a result."""
    data = json.loads(reply)
    if "error" in data:
        raise RuntimeError(data["error"])
    result = GradeResult.from_json(data["result"])
    if result.submission_sha256 != sent or result.student != task.student:
        raise RuntimeError(f"the node graded something other than it was sent: sha256 "
                           f"{result.submission_sha256} of {result.student}, not {sent} of "
                           f"{task.student}")
    result.save(task.result_path)
    return result


def grade_on_node(payload: bytes, name: str, student: str, assignment: str,
                  settings: config.Settings, profile: config.Profile, sandbox: bool,
                  per_gpu: int, data: dict[str, int]) -> str:
    """A node's side (a Ray task): grade the submission's bytes, return plain JSON."""
    host = socket.gethostname()
    try:
        _check_node(settings, assignment, sandbox, data)
        gpu = _gpu_slot(profile, per_gpu)
        threads = config.threads_for(profile, per_gpu * _node_gpus() if gpu else 1)
        with tempfile.TemporaryDirectory(prefix="grader-ray-") as tmp:
            os.chmod(tmp, 0o700)
            copy = Path(tmp) / name   # the same file name: results name their notebook
            copy.write_bytes(payload)
            task = Task(student, copy, Path(tmp) / "unused.json")
            result = grade_task(task, assignment, settings=settings, profile=profile,
                                threads=threads, gpu=gpu, sandbox=sandbox, save=False)
        return json.dumps({"result": result.to_json()})
    except Exception as exc:   # only text goes back, never an exception object
        return json.dumps({"error": f"on node {host}: {type(exc).__name__}: {exc}"})


def _check_node(settings: config.Settings, assignment: str, sandbox: bool,
                data: dict[str, int]) -> None:
    """Refuse, naming what is missing, where this node would grade differently."""
    source = settings.course.source_notebook(assignment)
    if not source.is_file():
        raise RuntimeError(f"no course checkout here ({source} is missing): every node needs "
                           "the driver's course at the same path")
    here = _data_files(settings.data_root)
    if any(here.get(name) != size for name, size in data.items()):
        raise RuntimeError(f"MNIST under {settings.data_root} is not the driver's (here "
                           f"{sorted(here)}, on the driver {sorted(data)}): run "
                           f"`python -m grader fetch-data --root {settings.data_root}` here")
    if sandbox:
        from ..sandbox import isolation

        if not isolation.available():
            raise RuntimeError(f"no worker sandbox on this node: {isolation.probe()}")


def _gpu_slot(profile: config.Profile, per_gpu: int) -> config.GpuSlot | None:
    """The card Ray gave this task, with a ``1/per_gpu`` share of its memory (CUDA only).
    Ray counts the shares of a card; which share this is it does not say, hence index 0."""
    if profile.device != "cuda":
        return None
    import ray

    ids = ray.get_gpu_ids()
    if not ids:
        raise RuntimeError("Ray gave this task no GPU")
    return config.GpuSlot(str(ids[0]), memory_share(per_gpu), 0)


def _node_gpus() -> int:
    """How many GPUs this node has (its workers split its CPU threads between them)."""
    import ray

    me = ray.get_runtime_context().get_node_id()
    return next((max(1, int(n["Resources"].get("GPU", 1))) for n in ray.nodes()
                 if n["NodeID"] == me), 1)
