"""The one writer of the hidden tests' scores: ``auto_score`` per answer cell's ``grade_id``.

Runs in nbgrader's chain right after ``SaveAutoGrades``, which scores public test cells
from the outputs ``ApplyGraderResults`` wrote and leaves answer cells (solution + grade)
for manual grading; this fills their ``auto_score`` with the hidden tests' total. As in
nbgrader, a manual score an instructor gave wins over the auto score, and a cell that had
one is flagged for review when the submission changed.
"""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from ...results import GradeResult
from .apply_results import RESULT_KEY


def record_hidden_scores(gb: Gradebook, student: str, result: GradeResult) -> int:
    """Write the hidden tests' totals into the gradebook; return how many cells changed."""
    totals: dict[str, float] = {}
    for t in result.tests:
        if t.kind != "public":
            totals[t.grade_id] = totals.get(t.grade_id, 0.0) + t.score
    written = 0
    for grade_id, score in totals.items():
        try:
            grade = gb.find_grade(grade_id, result.assignment, result.assignment, student)
        except MissingEntry:
            continue
        grade.auto_score = min(round(float(score), 2), float(grade.max_score))  # points, not noise
        grade.needs_manual_grade = grade.manual_score is not None
        written += 1
    gb.db.commit()
    return written


class RecordHiddenScores(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        result = resources.get(RESULT_KEY)
        if result is None:
            raise RuntimeError("RecordHiddenScores needs ApplyGraderResults earlier in "
                               "Autograde.autograde_preprocessors (see nbgrader_config.py)")
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            record_hidden_scores(gb, info["student"], result)
        return nb, resources
