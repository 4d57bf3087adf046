"""Rules on one notebook's cells alone: the mistakes nbgrader would otherwise leave for
students to find (a duplicate or missing ``grade_id``, unbalanced solution markers, a graded
cell worth nothing, committed outputs, a public test a student can edit)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from ..notebooks import cells
from .findings import Finding, cell_label

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MARKER = re.compile(r"^\s*(### BEGIN SOLUTION|### END SOLUTION)\s*$", re.M)


def _is_nbgrader_cell(cell: NotebookNode) -> bool:
    meta = cells.nbgrader_meta(cell)
    return bool(meta.get("grade") or meta.get("solution") or meta.get("locked"))


def grade_id_rules(path: Path, nb: NotebookNode) -> list[Finding]:
    """Every nbgrader cell has a ``grade_id``, and no two share one (nbgrader keys the
    gradebook and restores locked cells by it, so a duplicate silently merges two cells)."""
    found, seen = [], defaultdict(list)
    for i, c in enumerate(nb.cells):
        if not _is_nbgrader_cell(c):
            continue
        gid = cells.grade_id(c)
        if not gid:
            found.append(Finding("missing-grade-id", path, cell_label(i, None),
                                 "an nbgrader cell (graded, solution or locked) has no grade_id",
                                 "give it a unique grade_id (a solution cell's is its function's name)"))
        else:
            seen[gid].append(i)
    for gid, where in seen.items():
        if len(where) > 1:
            for i in where[1:]:
                found.append(Finding("duplicate-grade-id", path, cell_label(i, gid),
                                     f"grade_id {gid!r} is also used by cell {where[0]}",
                                     "rename one of them; grade_ids must be unique in a notebook"))
    return found


def marker_rules(path: Path, nb: NotebookNode) -> list[Finding]:
    """Solution markers come in ``BEGIN``/``END`` pairs, only in solution cells, and every
    code solution cell has them (without them nbgrader blanks the whole cell, signature too)."""
    found = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        label = cell_label(i, cells.grade_id(c))
        markers = MARKER.findall(c.source)
        open_, broken = False, False
        for m in markers:
            if (m == BEGIN) == open_:
                broken = True
            open_ = m == BEGIN
        if broken or open_:
            found.append(Finding("unbalanced-solution-markers", path, label,
                                 f"{markers.count(BEGIN)} '{BEGIN}' and {markers.count(END)} "
                                 f"'{END}' do not pair up in order",
                                 f"close every '{BEGIN}' with one '{END}' before the next begins"))
        elif markers and not cells.is_solution(c):
            found.append(Finding("markers-outside-solution", path, label,
                                 "solution markers in a cell that is not a solution cell",
                                 "mark the cell as a solution (cells.solution) or remove the markers"))
        elif cells.is_code_solution(c) and not markers:
            found.append(Finding("solution-without-markers", path, label,
                                 "a code solution cell without solution markers: nbgrader would "
                                 "replace the whole cell, signature included",
                                 f"put the body between '{BEGIN}' and '{END}'"))
    return found


def cell_rules(path: Path, nb: NotebookNode) -> list[Finding]:
    """Graded cells are worth points, no outputs are committed, public tests are locked."""
    found = []
    for i, c in enumerate(nb.cells):
        label = cell_label(i, cells.grade_id(c))
        if cells.is_grade(c) and cells.points(c) <= 0:
            found.append(Finding("graded-without-points", path, label,
                                 "a graded cell with no points: nbgrader records it as worth 0",
                                 "set its points (nbgrader metadata 'points') to the tests' total"))
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None):
            found.append(Finding("outputs-committed", path, label,
                                 "the cell has outputs or an execution count committed",
                                 "run `python -m grader normalize source`"))
        if cells.is_public_test(c) and not cells.is_locked(c):
            found.append(Finding("unlocked-test", path, label,
                                 "a public test cell is not locked: a student could edit it",
                                 "set 'locked': true in its nbgrader metadata (cells.public_test)"))
    return found


def structure_rules(path: Path, nb: NotebookNode) -> list[Finding]:
    return grade_id_rules(path, nb) + marker_rules(path, nb) + cell_rules(path, nb)
