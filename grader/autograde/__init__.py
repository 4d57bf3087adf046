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
    from .batch import find_tasks, grade_all, handing_over
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
    try:
        results = grade_all(tasks, assignment, jobs=jobs, device=device, force=force,
                            settings=settings, progress=progress, workers_per_gpu=workers_per_gpu,
                            sandbox=not unsandboxed, backend=backend, address=address)
    except RayBackendError as exc:   # no cluster at --address, no GPU in it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _ensure_assignment(api, assignment):
        return 1

    failed = {t.student: "grader error" for t in tasks if t.student not in results}
    stale = [t for t in tasks if t.student in results and _needs_recording(course, assignment, t)]
    with _kept_env("NBGRADER_EXECUTION"), handing_over(course, assignment, results):
        recorded = _each(stale, f"recording {assignment} in the gradebook", progress,
                         lambda t: api.autograde(assignment, t.student, force=True, create=True))
    for task in stale:
        if task not in recorded:
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
        outcome = step(task)
        if outcome.get("success"):
            done.append(task)
        else:
            tqdm.write(f"{desc} failed for {task.student}:\n"
                       f"{outcome.get('error') or outcome.get('log', '')}", file=sys.stderr)
        bar.tick(failed=not outcome.get("success"))
    bar.close()
    return done


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
