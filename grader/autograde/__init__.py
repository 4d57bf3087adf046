"""Grade a course batch into nbgrader: gradebook, ``autograded/`` and feedback.

Phase 1 grades submissions in parallel in sandboxed workers (``batch``). Phase 2 is the
single collector: nbgrader's own Autograde converter, with our ``ApplyGraderResults``
instead of its in-kernel execution, writes ``autograded/`` and the gradebook; then the
hidden scores go in per ``grade_id`` and nbgrader generates the feedback HTML.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

from ..course import Course, check_assignment


def main(*, assignment: str, student: str | None = None, jobs: int = 1, device: str = "auto",
         force: bool = False, feedback: bool = True, course: Course | None = None,
         progress: bool = True, workers_per_gpu: int | None = None,
         unsandboxed: bool = False) -> int:
    from ..report.table import render
    from ..sandbox import isolation
    from .batch import find_tasks, grade_all
    from .collector import record_hidden_scores
    from .nbgrader_api import autograde_config, make_api

    check_assignment(assignment)
    if not unsandboxed and not isolation.available():
        print(f"error: refusing to grade without the worker sandbox: {isolation.probe()}.\n"
              "Student code would run with your account's access to the course, the "
              "gradebook and the hidden tests. Pass --unsandboxed only if you accept that.",
              file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy noise from its API
    course = course or Course.from_env()
    tasks = find_tasks(course, assignment, [student] if student else None)
    if not tasks:
        where = course.root / "submitted"
        print(f"no submissions of {assignment} under {where}"
              + (f" for student {student}" if student else ""), file=sys.stderr)
        return 2
    results = grade_all(tasks, assignment, jobs=jobs, device=device, force=force, course=course,
                        progress=progress, workers_per_gpu=workers_per_gpu,
                        sandbox=not unsandboxed)

    api = make_api(course.root, autograde_config(course.results_dir(assignment)))
    _ensure_assignment(api, assignment)
    rows, failed = [], 0
    for task in tasks:
        result = results.get(task.student)
        if result is None:
            failed += 1
            rows.append((task.student, "-", "-", "grader error"))
            continue
        with _kept_env("NBGRADER_EXECUTION"):
            outcome = api.autograde(assignment, task.student, force=True, create=True)
        if not outcome.get("success"):
            failed += 1
            rows.append((task.student, result.score, result.max_score, "nbgrader autograde failed"))
            print(outcome.get("error") or outcome.get("log", ""), file=sys.stderr)
            continue
        record_hidden_scores(api.coursedir.db_url, api.coursedir.course_id, task.student, result)
        if feedback:
            fb = api.generate_feedback(assignment, task.student, force=True)
            if not fb.get("success"):
                print(fb.get("error") or fb.get("log", ""), file=sys.stderr)
        rows.append((task.student, result.score, result.max_score, f"{result.percent:.1f}%"))
    print(render(("student", "score", "max", "percent"), rows))
    return 1 if failed else 0


def _ensure_assignment(api, assignment: str) -> None:
    """nbgrader needs the source's cells in the gradebook (as after generate_assignment)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, course_id=api.coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
            known = True
        except MissingEntry:
            known = False
    if not known:
        outcome = api.generate_assignment(assignment, force=True, create=True)
        if not outcome.get("success"):
            raise SystemExit(f"could not register {assignment} in the gradebook:\n{outcome.get('log')}")


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
