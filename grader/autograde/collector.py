"""The one writer of the gradebook: hidden-test scores per ``grade_id``.

nbgrader's ``SaveAutoGrades`` scores public test cells from the outputs we wrote; the
answer cells (solution + grade) are left for manual grading by nbgrader, and this fills
their ``auto_score`` with the hidden tests' total. An instructor can still override any of
them in formgrader (a manual score wins over the auto score).
"""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry

from ..grade.results import GradeResult


def record_hidden_scores(db_url: str, course_id: str, student: str, result: GradeResult) -> int:
    """Write the hidden tests' totals into the gradebook; return how many cells changed."""
    totals: dict[str, float] = {}
    for t in result.tests:
        if t.kind != "public":
            totals[t.grade_id] = totals.get(t.grade_id, 0.0) + t.score
    notebook = result.assignment
    written = 0
    with Gradebook(db_url, course_id=course_id) as gb:
        for grade_id, score in totals.items():
            try:
                grade = gb.find_grade(grade_id, notebook, result.assignment, student)
            except MissingEntry:
                continue
            grade.auto_score = min(float(score), float(grade.max_score))
            grade.needs_manual_grade = False
            written += 1
        gb.db.commit()
    return written
