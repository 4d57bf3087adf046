"""Grade every submission of an assignment in parallel, resuming after an interruption.

Each submission gets its own worker; results are saved per student as JSON the moment
they are ready, so a rerun only grades what is missing or changed. The workers run here
(``backend="local"``, threads of this process) or on a Ray cluster (``backend="ray"``,
``ray_backend``), which calls the same ``grade_task`` on its nodes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .. import config
from ..course import Course
from ..grade.runner import grade_notebook
from ..results import GradeResult
from .gpu_slots import GpuSlots, leased


@dataclass
class Task:
    student: str
    notebook: Path
    result_path: Path

    def digest(self) -> str:
        return hashlib.sha256(self.notebook.read_bytes()).hexdigest()

    def is_done(self) -> bool:
        if not self.result_path.exists():
            return False
        try:
            old = GradeResult.load(self.result_path)
        except Exception:
            return False
        return old.submission_sha256 == self.digest()


# Results this process holds for nbgrader's chain, which runs in this process right after
# grading (``autograde.main``): ``ApplyGraderResults`` takes them from here, as they are,
# and reads the saved copy only when it runs on its own (plain ``nbgrader autograde``).
_HANDED: dict[tuple[str, str, str], GradeResult] = {}
_HANDED_LOCK = threading.Lock()


@contextmanager
def handing_over(course: Course, assignment: str, results: dict[str, GradeResult]) -> Iterator[None]:
    """Make ``results`` (student -> result) what nbgrader's chain records, for the duration."""
    keys = {(str(course.root), assignment, student): r for student, r in results.items()}
    with _HANDED_LOCK:
        _HANDED.update(keys)
    try:
        yield
    finally:
        with _HANDED_LOCK:
            for key in keys:
                _HANDED.pop(key, None)


def handed_result(task: Task, course: Course, assignment: str) -> GradeResult | None:
    """The in-memory result of exactly this submission, if this process holds one."""
    with _HANDED_LOCK:
        result = _HANDED.get((str(course.root), assignment, task.student))
    if result is not None and result.submission_sha256 == task.digest():
        return result
    return None


def find_tasks(course: Course, assignment: str, students: Iterable[str] | None = None) -> list[Task]:
    root = course.root / "submitted"
    wanted = set(students) if students else None
    tasks = []
    for nb in sorted(root.glob(f"*/{assignment}/{assignment}.ipynb")):
        student = nb.parent.parent.name
        if wanted is None or student in wanted:
            tasks.append(task_for(course, assignment, student))
    return tasks


def grade_task(task: Task, assignment: str, *, settings: config.Settings, profile: config.Profile,
               threads: int | None = None, gpu=None, sandbox: bool = True,
               save: bool = True) -> GradeResult:
    """Grade one submission and save its result beside the digest it was graded from
    (``save=False``: a Ray node, whose driver saves what it sends back)."""
    digest = task.digest()
    result = grade_notebook(task.notebook, assignment, settings=settings, profile=profile,
                            threads=threads, gpu=gpu, sandbox=sandbox)
    result.submission_sha256 = digest
    result.student = task.student
    if save:
        result.save(task.result_path)
    return result


def task_for(course: Course, assignment: str, student: str) -> Task:
    return Task(student, course.submitted_notebook(student, assignment),
                course.results_dir(assignment) / f"{student}.json")


class Progress:
    """A batch phase's progress bar (done/total, ETA, failures so far): grading on either
    backend, and nbgrader's per-student steps after it (``autograde``)."""

    def __init__(self, todo: list, desc: str, progress: bool) -> None:
        self.failures = 0
        self.bar = tqdm(total=len(todo), desc=desc, unit="nb", disable=not progress or not todo)

    def tick(self, failed: bool = False) -> None:
        self.failures += int(failed)
        self.bar.update(1)
        self.bar.set_postfix(failures=self.failures)

    def finished(self, task: Task, outcome: Callable[[], GradeResult],
                 done: dict[str, GradeResult]) -> None:
        """Record one submission's ending: its result, or a failure named with the student."""
        try:
            done[task.student] = outcome()
        except Exception as exc:
            tqdm.write(f"grader error for {task.student}: {type(exc).__name__}: {exc}")
            self.tick(failed=True)
            return
        self.tick()

    def close(self) -> None:
        self.bar.close()


def pending(tasks: list[Task], force: bool = False) -> list[Task]:
    """The submissions a batch grades: new or changed since their saved result (all with ``force``)."""
    return [t for t in tasks if force or not t.is_done()]


def grade_all(tasks: list[Task], assignment: str, *, jobs: int = 1, device: str = "auto",
              force: bool = False, settings: config.Settings | None = None, progress: bool = True,
              workers_per_gpu: int | None = None, sandbox: bool = True,
              profile: config.Profile | None = None, backend: str = "local",
              address: str | None = None,
              on_graded: Callable[[Task, GradeResult], None] | None = None) -> dict[str, GradeResult]:
    """Grade what is missing or changed, ``jobs`` at a time; on CUDA each job holds a GPU share.

    ``backend="ray"`` runs the same tasks on a Ray cluster (``ray_backend``; ``address`` as
    for ``ray.init``) and saves their results here. ``on_graded`` (local backend) runs in
    this thread for each submission as soon as it is graded, while the others still are:
    ``autograde`` records it in the gradebook then, instead of after the whole batch.
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r}: local or ray")
    todo = pending(tasks, force)
    done = {t.student: GradeResult.load(t.result_path) for t in tasks if t not in todo}
    settings = settings or config.Settings.from_env()
    if backend == "ray":
        if todo:
            from .ray_backend import grade_on_ray

            grade_on_ray(todo, assignment, done, jobs=jobs, device=device, settings=settings,
                         progress=progress, workers_per_gpu=workers_per_gpu, sandbox=sandbox,
                         profile=profile, address=address)
        return done
    profile = profile or config.resolve_profile(device)
    slots = GpuSlots.for_jobs(jobs, workers_per_gpu) if profile.device == "cuda" and todo else None
    threads = config.threads_for(profile, jobs)

    def one(task: Task) -> GradeResult:
        with leased(slots) as slot:
            return grade_task(task, assignment, settings=settings, profile=profile, threads=threads,
                              gpu=slot, sandbox=sandbox)

    bar = Progress(todo, f"grading {assignment}", progress)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(one, t): t for t in todo}
        for fut in as_completed(futures):
            task = futures[fut]
            bar.finished(task, fut.result, done)
            if on_graded is not None and task.student in done:
                on_graded(task, done[task.student])
    bar.close()
    return done
