"""Build and classify nbgrader cells.

nbgrader keeps its cell roles in ``cell.metadata.nbgrader``; these helpers write that
metadata the same way everywhere (authoring scripts, tests, the grader), so a cell's role
is never guessed from its text.
"""

from __future__ import annotations

from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

SCHEMA_VERSION = 3
SKIP_WHEN_GRADING = "skip-when-grading"


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool,
          points: float | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(grade_id: str, text: str) -> NotebookNode:
    """A read-only instruction cell (restored from the source when graded)."""
    return nbformat.v4.new_markdown_cell(
        text.strip("\n"), metadata=_meta(grade_id, grade=False, solution=False, locked=True)
    )


def locked_code(grade_id: str, code: str, *, tags: tuple[str, ...] = ()) -> NotebookNode:
    """Instructor code the student runs but cannot change (imports, demos, training)."""
    meta = _meta(grade_id, grade=False, solution=False, locked=True)
    if tags:
        meta["tags"] = list(tags)
    return nbformat.v4.new_code_cell(code.strip("\n"), metadata=meta)


def solution(grade_id: str, code: str, points: float) -> NotebookNode:
    """The student's answer cell for one function or class; hidden tests score it.

    It is an nbgrader grade cell too (solution + grade), so the gradebook has one row per
    ``grade_id`` that the grader fills with the hidden tests' score.
    """
    return nbformat.v4.new_code_cell(
        code.strip("\n"),
        metadata=_meta(grade_id, grade=True, solution=True, locked=False, points=points),
    )


def public_test(grade_id: str, code: str, points: float = 1) -> NotebookNode:
    """A locked test cell that the student can run on their own answers."""
    return nbformat.v4.new_code_cell(
        code.strip("\n"),
        metadata=_meta(grade_id, grade=True, solution=False, locked=True, points=points),
    )


def written_answer(grade_id: str, points: float, text: str = "YOUR ANSWER HERE") -> NotebookNode:
    """A manually graded Markdown answer (the instructor grades it in formgrader)."""
    return nbformat.v4.new_markdown_cell(
        text.strip("\n"),
        metadata=_meta(grade_id, grade=True, solution=True, locked=False, points=points),
    )


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_grade(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_locked(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("locked"))


def is_code_solution(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and is_solution(cell)


def is_public_test(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_written_answer(cell: NotebookNode) -> bool:
    return cell.cell_type == "markdown" and is_grade(cell) and is_solution(cell)


def is_setup(cell: NotebookNode) -> bool:
    """Locked instructor code that answers may rely on (imports, constants)."""
    return (cell.cell_type == "code" and is_locked(cell) and not is_grade(cell)
            and (grade_id(cell) or "").startswith("setup"))


def skip_when_grading(cell: NotebookNode) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return SKIP_WHEN_GRADING in tags or SKIP_WHEN_GRADING in nbgrader_meta(cell).get("tags", [])


def points(cell: NotebookNode) -> float:
    return float(nbgrader_meta(cell).get("points", 0))
