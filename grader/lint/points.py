"""Rules between a notebook and its hidden tests: every hidden test points at a cell that
exists, every student function is run by some hidden test, a cell's points are its hidden
tests' total, and the total the notebook states to students is the one it grades."""

from __future__ import annotations

import re
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from ..hidden.framework import HiddenTest
from ..notebooks import cells
from .findings import Finding, cell_label

TOTAL_ROW = re.compile(r"^\|.*\*\*total.*$", re.I | re.M)
BOLD = re.compile(r"\*\*(.+?)\*\*")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def hidden_rules(path: Path, nb: NotebookNode, tests: list[HiddenTest],
                 hidden_dir: Path) -> list[Finding]:
    """Hidden tests against the notebook's code solution cells, by ``grade_id``."""
    found = []
    solutions = {cells.grade_id(c): (i, c) for i, c in enumerate(nb.cells) if cells.is_code_solution(c)}
    totals: dict[str, float] = {}
    for t in tests:
        totals[t.grade_id] = totals.get(t.grade_id, 0.0) + t.points
        if t.grade_id not in solutions:
            found.append(Finding("hidden-unknown-grade-id", hidden_dir, f"hidden test {t.name!r}",
                                 f"its grade_id {t.grade_id!r} is no code solution cell of "
                                 f"{path.name}", "register the test to an existing solution "
                                 "cell's grade_id, or restore that cell"))
    for gid, (i, c) in solutions.items():
        label = cell_label(i, gid)
        if not any(t.grade_id == gid and t.kind == "hidden" for t in tests):
            found.append(Finding("untested-solution", path, label,
                                 f"no hidden test calls {gid} (static rules alone do not run it)",
                                 f"add a @test({gid!r}, points, ...) to {hidden_dir}"))
        elif abs(totals.get(gid, 0.0) - cells.points(c)) > 1e-9:
            found.append(Finding("points-mismatch", path, label,
                                 f"the cell is worth {cells.points(c):g} points but its hidden "
                                 f"tests add up to {totals.get(gid, 0.0):g}",
                                 "make the cell's points equal its hidden tests' total"))
    return found


def stated_total_rules(path: Path, nb: NotebookNode) -> list[Finding]:
    """Each bold number in a Markdown table's ``**total**`` row is one of the totals the
    notebook really grades: answer cells (code and written), public tests, or both.

    A number with "hour" or "min" is a time estimate, not points, and is skipped.
    """
    answers = sum(cells.points(c) for c in nb.cells if cells.is_grade(c) and cells.is_solution(c))
    public = sum(cells.points(c) for c in nb.cells if cells.is_public_test(c))
    real = {answers, public, answers + public}
    found = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "markdown":
            continue
        for row in TOTAL_ROW.findall(c.source):
            for bold in BOLD.findall(row):
                numbers = [float(n) for n in NUMBER.findall(bold)]
                if not numbers or re.search(r"hour|min", bold, re.I):
                    continue
                if sum(numbers) not in real:
                    found.append(Finding(
                        "stated-total", path, cell_label(i, cells.grade_id(c)),
                        f"the totals row states {bold!r} = {sum(numbers):g} points, but the "
                        f"notebook grades {answers:g} (answers) + {public:g} (public tests) "
                        f"= {answers + public:g}",
                        "correct the totals row, or the cells' points"))
    return found
