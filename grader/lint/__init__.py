"""``python -m grader lint``: authoring mistakes caught before students find them.

nbgrader accepts a notebook with a duplicate ``grade_id``, a solution marker left open, a
public test a student may edit, or hidden tests that point at a renamed cell; each would
surface only as wrong grades. Lint checks every source notebook with its hidden tests and
its release, and reports each mistake as a ``Finding`` (file, cell, message, fix). Rules
live by what they look at: ``structure`` (one notebook's cells), ``points`` (notebook
against hidden tests), ``release`` (the student version).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat

from ..course import Course, resolve_assignment
from .findings import Finding
from .points import hidden_rules, stated_total_rules
from .release import current_rules, leak_rules
from .structure import structure_rules

__all__ = ["Finding", "lint_set", "main"]


def _hidden_tests(assignment: str, hidden_dir: Path):
    """The set's hidden tests, or a finding saying why there are none."""
    from ..hidden import NoHiddenTests, hidden_tests_for

    try:
        return hidden_tests_for(assignment), []
    except NoHiddenTests as exc:
        return [], [Finding("no-hidden-tests", hidden_dir, "", str(exc),
                            f"create {hidden_dir}/__init__.py exposing TESTS "
                            "(`python -m grader new` writes one)")]


def lint_set(course: Course, assignment: str, *, release: bool = True) -> list[Finding]:
    """Every finding for one problem set; ``release=False`` skips the release rules."""
    path = course.source_notebook(assignment)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        return [Finding("unreadable", path, "", f"not a readable notebook: {exc}",
                        "restore it from git or fix its JSON")]
    from ..hidden import HIDDEN_DIR

    hidden_dir = HIDDEN_DIR / assignment
    tests, found = _hidden_tests(assignment, hidden_dir)
    found += structure_rules(path, nb)
    found += stated_total_rules(path, nb)
    if tests:
        found += hidden_rules(path, nb, tests, hidden_dir)
    if release:
        found += leak_rules(path, course.release_notebook(assignment))
        if not any(f.rule == "release-missing" for f in found):
            found += current_rules(course.root, assignment)
    return found


def main(*, assignments: list[str] | None = None, settings=None, quiet: bool = False) -> int:
    from ..config import Settings

    course = (settings or Settings.from_env()).course
    names = [resolve_assignment(a, course) for a in assignments] if assignments else list(
        course.problem_sets())
    start, found = time.perf_counter(), []
    for name in names:
        found += lint_set(course, name)
    for f in found:
        print(f.format(course.root), file=sys.stderr)
    if not quiet or found:
        print(f"lint: {len(names)} set(s), {len(found)} finding(s) "
              f"in {time.perf_counter() - start:.1f} s", file=sys.stderr if found else sys.stdout)
    return 1 if found else 0
