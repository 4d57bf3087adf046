"""Grade a course batch into nbgrader: gradebook, ``autograded/`` and feedback.

Phase 1 grades what is new or changed, in parallel, in sandboxed workers (``batch``):
here, or on a Ray cluster's nodes (``ray_backend``, ``--backend ray``).
Phase 2 records those submissions through nbgrader's own Autograde converter, whose chain
(``nbgrader_config.py``, ``preprocessors/``) turns our results into outputs and gradebook
scores instead of executing anything; unchanged submissions are left alone, so hand
grades and their flags survive a rerun. Then nbgrader generates the feedback HTML.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

from tqdm import tqdm

from ..config import Settings
from ..course import Course, resolve_assignment


def main(*, assignment: str, student: str | None = None, jobs: int = 1, device: str = "auto",
         force: bool = False, feedback: bool = True, settings: Settings | None = None,
         progress: bool = True, workers_per_gpu: int | None = None,
         unsandboxed: bool = False, backend: str = "local", address: str | None = None) -> int:
    from nbgrader.api import Gradebook

    from ..report.table import points, render
    from ..sandbox import isolation
    from .batch import find_tasks, grade_all, pending
    from .gradebook import standing
    from .nbgrader_api import UnsafeConfig, check_chain, make_api
    from .ray_backend import RayBackendError, import_ray  # ray itself: only when called

    if address is not None and backend != "ray":
        print("error: --address is the Ray cluster's; pass --backend ray with it", file=sys.stderr)
        return 2
    if backend == "ray":   # before anything slow: is the extra installed at all?
        try:
            import_ray()
        except RayBackendError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    # Fail closed first: without the sandbox nothing of the course is even looked at.
    if not unsandboxed and not isolation.available():
        print(f"error: refusing to grade without the worker sandbox: {isolation.probe()}.\n"
              "Student code would run with your account's access to the course, the "
              "gradebook and the hidden tests. Pass --unsandboxed only if you accept that.",
              file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy noise from its API
    settings = settings or Settings.from_env()
    assignment = resolve_assignment(assignment, settings.course)
    course = settings.course
    api = make_api(course.root)
    try:
        check_chain(api.config, course.root)
    except UnsafeConfig as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tasks = find_tasks(course, assignment, [student] if student else None)
    if not tasks:
        where = course.root / "submitted"
        print(f"no submissions of {assignment} under {where}"
              + (f" for student {student}" if student else ""), file=sys.stderr)
        return 2
    if not _ensure_assignment(api, assignment):
        return 1
    # What nbgrader must record: everything graded now, and anything graded before that it
    # has not recorded yet (an interrupted run). Each submission graded now is recorded as
    # soon as its result is in, while the pool grades the rest (``on_graded``).
    todo = pending(tasks, force)
    stale = [t for t in tasks if t in todo or _needs_recording(course, assignment, t)]
    recorder = _Recorder(api, course, assignment, stale, progress)
    try:
        with _kept_env("NBGRADER_EXECUTION"):
            results = grade_all(tasks, assignment, jobs=jobs, device=device, force=force,
                                settings=settings, progress=progress,
                                workers_per_gpu=workers_per_gpu, sandbox=not unsandboxed,
                                backend=backend, address=address, on_graded=recorder.record)
            for task in stale:           # graded earlier, or on Ray
                if task.student not in results:
                    recorder.not_graded(task)
                elif task not in recorder.tried:
                    recorder.record(task, results[task.student])
    except RayBackendError as exc:   # no cluster at --address, no GPU in it
        recorder.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    recorder.close()
    recorded = recorder.recorded
    failed = {t.student: "grader error" for t in tasks if t.student not in results}
    for task in stale:
        if task.student in results and task not in recorded:
            failed[task.student] = "nbgrader autograde failed (log above)"
    if feedback:
        _each(recorded, f"feedback for {assignment}", progress,
              lambda t: api.generate_feedback(assignment, t.student, force=True))

    rows = []
    with Gradebook(api.coursedir.db_url, course_id=api.coursedir.course_id) as gb:
        for task in tasks:
            result, now = results.get(task.student), standing(gb, assignment, task.student)
            if task.student in failed or result is None or now is None:
                rows.append((task.student, "-", "-", "-", "-", failed.get(task.student, "not recorded")))
                continue
            rows.append((task.student, points(result.score), points(result.max_score),
                         points(now.manual_pending) if now.manual_pending else "-",
                         now.describe().split(" ")[0],
                         "regraded" if task in stale else "unchanged"))
    print(render(("student", "auto", "auto max", "manual pending", "gradebook", "status"), rows))
    pending = sum(1 for r in rows if r[3] not in ("-",))
    if pending:
        print(f"{pending} submission(s) have written answers waiting for manual grading: "
              "formgrader (nbgrader's Manual Grading page) shows each with its marking guide.")
    return 1 if failed else 0


def _each(tasks: list, desc: str, progress: bool, step) -> list:
    """Run one of nbgrader's per-student steps over ``tasks`` with a progress bar (done/total,
    failures so far, ETA); the tasks it succeeded for. A failure prints nbgrader's log."""
    from .batch import Progress

    done, bar = [], Progress(tasks, desc, progress)
    for task in tasks:
        if _succeeded(step(task), desc, task):
            done.append(task)
        bar.tick(failed=task not in done)
    bar.close()
    return done


def _succeeded(outcome: dict, desc: str, task) -> bool:
    if not outcome.get("success"):
        tqdm.write(f"{desc} failed for {task.student}:\n"
                   f"{outcome.get('error') or outcome.get('log', '')}", file=sys.stderr)
    return bool(outcome.get("success"))


class _Recorder:
    """Records submissions in the gradebook through nbgrader's Autograde converter, one at a
    time, in the thread that calls ``record`` (the batch's main thread), with its own bar."""

    def __init__(self, api, course: Course, assignment: str, stale: list, progress: bool) -> None:
        from .batch import Progress

        self.api, self.course, self.assignment = api, course, assignment
        self.desc = f"recording {assignment} in the gradebook"
        self.bar = Progress(stale, self.desc, progress)
        self.tried: list = []
        self.recorded: list = []

    def record(self, task, result) -> None:
        from .batch import handing_over

        self.tried.append(task)
        try:
            with handing_over(self.course, self.assignment, {task.student: result}):
                outcome = self.api.autograde(self.assignment, task.student, force=True, create=True)
        except Exception as exc:   # never let one submission stop the batch around it
            outcome = {"success": False, "error": f"{type(exc).__name__}: {exc}"}
        if _succeeded(outcome, self.desc, task):
            self.recorded.append(task)
        self.bar.tick(failed=task not in self.recorded)

    def not_graded(self, task) -> None:
        """A submission the grader failed on is not waited for (it is reported as failed)."""
        if self.bar.bar.total:
            self.bar.bar.total -= 1
            self.bar.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _needs_recording(course: Course, assignment: str, task) -> bool:
    """New or regraded since nbgrader last recorded it (its autograded copy is older)."""
    autograded = course.autograded_dir(task.student, assignment) / task.notebook.name
    return not autograded.exists() or autograded.stat().st_mtime < task.result_path.stat().st_mtime


def _ensure_assignment(api, assignment: str) -> bool:
    """nbgrader needs the source's cells in the gradebook (as after generate_assignment)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, course_id=api.coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
            return True
        except MissingEntry:
            pass
    outcome = api.generate_assignment(assignment, force=True, create=True)
    if not outcome.get("success"):
        print(f"error: could not register {assignment} in the gradebook "
              f"(nbgrader generate_assignment):\n{outcome.get('log')}", file=sys.stderr)
        return False
    return True


@contextlib.contextmanager
def _kept_env(name: str):
    """nbgrader 0.9's setenv deletes the variable on exit; put back what was there."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
