"""Rebuild the code a worker runs from a submission and its source notebook.

Like nbgrader's ``OverwriteCells``, every locked cell comes from the instructor's source,
whatever the student did to it; solution cells and the student's own extra cells come
from the submission. Of the instructor's code only the setup cells (``grade_id`` starting
with ``setup``) run in the worker: public tests run on the trusted side, and demos and
cells tagged ``skip-when-grading`` are for the student's own reading and runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbformat.notebooknode import NotebookNode

from . import cells


@dataclass
class WorkerCell:
    """One code cell to run in the worker, with where it came from."""

    source: str
    grade_id: str | None
    origin: str  # "instructor" | "solution" | "student"
    index: int   # position in the submission (-1 for re-inserted instructor cells)


@dataclass
class Restored:
    cells: list[WorkerCell]
    solutions: dict[str, str]               # grade_id -> submitted code
    notes: list[str] = field(default_factory=list)


def restore(submission: NotebookNode, source: NotebookNode) -> Restored:
    src_by_id: dict[str, NotebookNode] = {}
    for cell in source.cells:
        gid = cells.grade_id(cell)
        if gid:
            src_by_id.setdefault(gid, cell)
    src_order = [cells.grade_id(c) for c in source.cells]
    seen: set[str] = set()
    out: list[WorkerCell] = []
    solutions: dict[str, str] = {}
    notes: list[str] = []

    def instructor(cell: NotebookNode, index: int) -> None:
        # Only setup cells: demos are for reading, cost time, and are never graded.
        if cell.cell_type != "code" or not cells.is_setup(cell) or cells.skip_when_grading(cell):
            return
        out.append(WorkerCell(cell.source, cells.grade_id(cell), "instructor", index))

    def reinsert_missing_before(gid: str | None) -> None:
        """Put back locked cells the student deleted, in source order."""
        stop = src_order.index(gid) if gid in src_order else len(src_order)
        for sid in src_order[:stop]:
            if sid and sid not in seen and cells.is_locked(src_by_id[sid]):
                seen.add(sid)
                instructor(src_by_id[sid], -1)
                notes.append(f"the locked cell {sid!r} was missing and has been restored")

    for index, cell in enumerate(submission.cells):
        gid = cells.grade_id(cell)
        if gid in seen:
            notes.append(f"cell {index} repeats the id {gid!r}; only the first one counts")
            continue
        if gid and gid in src_by_id:
            reinsert_missing_before(gid)
            seen.add(gid)
            ref = src_by_id[gid]
            if cells.is_code_solution(ref):
                if cell.cell_type != "code":
                    notes.append(f"the answer cell {gid!r} is no longer a code cell")
                    continue
                solutions[gid] = cell.source
                out.append(WorkerCell(cell.source, gid, "solution", index))
            elif cells.is_locked(ref) or cells.is_grade(ref):
                instructor(ref, index)
            continue
        if cell.cell_type == "code" and not cells.skip_when_grading(cell):
            out.append(WorkerCell(cell.source, gid, "student", index))
    reinsert_missing_before(None)
    for gid, ref in src_by_id.items():
        if cells.is_code_solution(ref) and gid not in solutions:
            notes.append(f"the answer cell {gid!r} is missing from the submission")
    return Restored(out, solutions, notes)
