"""Reading nbgrader's gradebook: one home for every question asked of it.

Where a submission stands (points earned, automatic and manual) for every table
(autograde, demo), so that "29/29" in one place and "29/32" in another cannot happen: each
says what was graded automatically and how many points still wait for a person in
formgrader. And every student's grades per cell for the class report. Everything goes
through nbgrader's own ``Gradebook`` API, so a score changed by hand in formgrader counts
exactly as nbgrader itself counts it (``Grade.score``: the manual score if set, else the
auto score). Writing is nbgrader's chain's job (``preprocessors/``), never this module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from ..report.class_report import CellGrade, StudentRow
from ..report.table import points


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


def standing(gb: Gradebook, assignment: str, student: str) -> Standing | None:
    """The submission's standing, or ``None`` when the student has none in the gradebook."""
    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    pending = sum(g.max_score for nb in sub.notebooks for g in nb.grades
                  if g.needs_manual_grade and g.manual_score is None)
    return Standing(float(sub.score), float(sub.max_score), float(pending))


def read_gradebook(gb, assignment: str, source_dir: Path | None = None
                   ) -> tuple[dict[str, float], list[StudentRow]]:
    """Cells (in the source notebook's order where it exists) and every student's grades."""
    max_points: dict[str, float] = {}   # a set is one notebook here (Course's paths say so)
    for nb in sorted(gb.find_assignment(assignment).notebooks, key=lambda n: n.name):
        order = _cell_order(source_dir / f"{nb.name}.ipynb") if source_dir else {}
        for c in sorted(nb.grade_cells + nb.task_cells, key=lambda c: order.get(c.name, 1e9)):
            max_points[c.name] = float(c.max_score)
    students = []
    for student in sorted(s.id for s in gb.students):
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            students.append(StudentRow(student, None))
            continue
        students.append(StudentRow(student, {
            g.name: CellGrade(float(g.score), float(g.max_score),
                               bool(g.needs_manual_grade),
                               g.auto_score is not None or g.manual_score is not None)
            for n in sub.notebooks for g in n.grades}))
    return max_points, students


def _cell_order(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    import nbformat

    from ..notebooks import cells
    nb = nbformat.read(path, as_version=4)
    return {gid: i for i, c in enumerate(nb.cells) if (gid := cells.grade_id(c))}
