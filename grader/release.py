"""Regenerate ``release/`` (the student versions) with nbgrader's generate_assignment."""

from __future__ import annotations

import sys

from .config import Settings
from .course import resolve_assignment


def main(*, assignments: list[str] | None = None, settings: Settings | None = None) -> int:
    from .autograde.nbgrader_api import make_api

    course = (settings or Settings.from_env()).course
    names = [resolve_assignment(a, course) for a in assignments] if assignments else list(
        course.problem_sets())
    api = make_api(course.root)
    status = 0
    for name in names:
        outcome = api.generate_assignment(name, force=True, create=True)
        if outcome.get("success"):
            print(f"released {name} -> {course.release_notebook(name).relative_to(course.root)}")
        else:
            status = 1
            print(f"generate_assignment {name} failed:\n{outcome.get('error') or outcome.get('log')}",
                  file=sys.stderr)
    return status
