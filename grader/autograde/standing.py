"""Where a submission stands in the gradebook: points earned, automatic and manual.

One reading of nbgrader's gradebook for every table (autograde, demo, report), so that
"29/29" in one place and "29/32" in another cannot happen: each says what was graded
automatically and how many points still wait for a person in formgrader.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbgrader.api import Gradebook, MissingEntry


@dataclass(frozen=True)
class Standing:
    score: float          # every point awarded so far (automatic and manual)
    max_score: float      # the assignment's total
    manual_pending: float  # points of cells that wait for manual grading

    @property
    def settled_max(self) -> float:
        """The points that have been decided (by the grader or a person)."""
        return self.max_score - self.manual_pending

    def describe(self) -> str:
        """``29/32`` or ``29/32 (3 to grade by hand)``.

        >>> Standing(29.0, 32.0, 3.0).describe()
        '29/32 (3 to grade by hand)'
        >>> Standing(19.03472, 20.0, 0.0).describe()
        '19.03/20'
        """
        text = f"{points(self.score)}/{points(self.max_score)}"
        if self.manual_pending:
            text += f" ({points(self.manual_pending)} to grade by hand)"
        return text


def points(value: float) -> str:
    """Points for people: at most two decimals, no trailing zeros.

    >>> points(19.0347), points(131.036), points(3.0)
    ('19.03', '131.04', '3')
    """
    return f"{round(value + 0.0, 2):.2f}".rstrip("0").rstrip(".")


def standing(gb: Gradebook, assignment: str, student: str) -> Standing | None:
    """The submission's standing, or ``None`` when the student has none in the gradebook."""
    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    pending = sum(g.max_score for nb in sub.notebooks for g in nb.grades
                  if g.needs_manual_grade and g.manual_score is None)
    return Standing(float(sub.score), float(sub.max_score), float(pending))
