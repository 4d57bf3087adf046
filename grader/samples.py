"""Simulated student submissions, built from the release and the source notebooks.

Used by the demo (the README's main job) and by the test corpus: a *reference* student
pastes the instructor's answers into the release, a *blank* student submits the release
as is, and a *mutated* student changes some answers by exact text substitutions, so that
a substitution that no longer matches the reference fails loudly instead of silently.
The reference student also answers the written questions with the model answers (without
the marking guides), as a good student would; those still wait for manual grading.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from .config import Settings
from .course import Course
from .notebooks import cells
from .notebooks.guides import written_answers

Substitutions = dict[str, list[tuple[str, str]]]   # grade_id -> [(old, new), ...]


class StaleMutation(ValueError):
    """A substitution's text is no longer in the reference solution."""


def reference_answers(source_nb: NotebookNode) -> dict[str, str]:
    return {cells.grade_id(c): c.source for c in source_nb.cells if cells.is_code_solution(c)}


def mutate(code: str, subs: list[tuple[str, str]], where: str = "") -> str:
    for old, new in subs:
        if old not in code:
            raise StaleMutation(f"{where}: {old!r} is not in the reference answer")
        code = code.replace(old, new)
    return code


def build_submission(assignment: str, *, answers: str = "reference",
                     substitutions: Substitutions | None = None,
                     replace: dict[str, str] | None = None,
                     course: Course | None = None) -> NotebookNode:
    """The release notebook with answers filled in.

    ``answers`` is ``"reference"`` (the instructor's answers) or ``"blank"`` (untouched);
    ``substitutions`` edits reference answers; ``replace`` swaps whole answer cells.
    """
    course = course or Settings.from_env().course
    release = nbformat.read(course.release_notebook(assignment), as_version=4)
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    ref, written = reference_answers(source), written_answers(source)
    for cell in release.cells:
        gid = cells.grade_id(cell)
        if answers == "reference" and cells.is_written_answer(cell) and gid in written:
            cell.source = written[gid][0]
        if not cells.is_code_solution(cell):
            continue
        if answers == "reference":
            cell.source = ref[gid]
        if substitutions and gid in substitutions:
            cell.source = mutate(ref[gid], substitutions[gid], f"{assignment}/{gid}")
        if replace and gid in replace:
            cell.source = replace[gid]
    return release


def write_submission(nb: NotebookNode, course_root: Path, student: str, assignment: str) -> Path:
    """Write as ``nbgrader collect`` would, ``timestamp.txt`` included (feedback needs it)."""
    from datetime import datetime

    path = course_root / "submitted" / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    (path.parent / "timestamp.txt").write_text(
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
    return path
