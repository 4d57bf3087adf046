"""restore(): what a worker runs is the instructor's locked cells and the student's answers.

Whatever a student does to the notebook (edits a locked cell, deletes one, adds cells,
duplicates an id, turns an answer into Markdown), the worker gets the source's locked setup
cells, the student's answer and extra cells, in the submission's order, and a note for
every repair.
"""

from __future__ import annotations

import nbformat

from grader.notebooks import cells
from grader.notebooks.restore import restore

SETUP = "import torch\nSCALE = 2\n"
ANSWER = "def double(x):\n    ### BEGIN SOLUTION\n    return x * SCALE\n    ### END SOLUTION\n"


def source():
    nb = nbformat.v4.new_notebook()
    nb.cells = [cells.markdown("intro", "# A set"),
                cells.locked_code("setup_imports", SETUP),
                cells.locked_code("demo_plot", "print('a demo')"),
                cells.solution("double", ANSWER, 2),
                cells.public_test("test_double", "assert double(1) == 2", 1),
                cells.locked_code("setup_late", "OFFSET = 1\n"),
                cells.locked_code("own_run", "train()", tags=("skip-when-grading",))]
    return nb


def submission(mutate=None):
    nb = source()
    for c in nb.cells:   # what a student's copy looks like: their own answer body
        if cells.grade_id(c) == "double":
            c.source = "def double(x):\n    return x + x\n"
    if mutate:
        mutate(nb)
    return nb


def ran(restored):
    return [(c.origin, c.grade_id) for c in restored.cells]


def test_the_worker_runs_setup_cells_and_answers_in_order_and_nothing_else():
    out = restore(submission(), source())
    assert ran(out) == [("instructor", "setup_imports"), ("solution", "double"),
                        ("instructor", "setup_late")]
    assert out.solutions == {"double": "def double(x):\n    return x + x\n"}
    assert out.notes == []


def test_an_edited_locked_cell_comes_back_from_the_source():
    def edit(nb):
        nb.cells[1].source = "SCALE = 100\n"
        nb.cells[4].source = "pass"   # a public test rewritten to pass
    out = restore(submission(edit), source())
    assert out.cells[0].source.strip() == SETUP.strip()


def test_a_deleted_locked_cell_is_put_back_with_a_note():
    def delete(nb):
        del nb.cells[1]
    out = restore(submission(delete), source())
    assert ran(out)[0] == ("instructor", "setup_imports") and out.cells[0].index == -1
    assert out.notes == ["the locked cell 'setup_imports' was missing and has been restored"]


def test_the_students_own_cells_run_but_not_their_skipped_ones():
    def add(nb):
        nb.cells.insert(4, nbformat.v4.new_code_cell("helper = 3"))
        skipped = nbformat.v4.new_code_cell("long_training()")
        skipped.metadata["tags"] = ["skip-when-grading"]
        nb.cells.insert(5, skipped)
        nb.cells.insert(6, nbformat.v4.new_markdown_cell("my notes"))
    out = restore(submission(add), source())
    assert ran(out) == [("instructor", "setup_imports"), ("solution", "double"),
                        ("student", None), ("instructor", "setup_late")]
    assert out.cells[2].source == "helper = 3" and out.cells[2].index == 4


def test_a_repeated_id_counts_once_and_says_so():
    def repeat(nb):
        copy = nbformat.v4.new_code_cell("def double(x):\n    return 0\n")
        copy.metadata = dict(nb.cells[3].metadata)
        nb.cells.insert(4, copy)
    out = restore(submission(repeat), source())
    assert out.solutions["double"] == "def double(x):\n    return x + x\n"
    assert out.notes == ["cell 4 repeats the id 'double'; only the first one counts"]


def test_an_answer_turned_into_markdown_or_deleted_is_missing_with_a_note():
    def to_markdown(nb):
        md = nbformat.v4.new_markdown_cell(nb.cells[3].source)
        md.metadata = dict(nb.cells[3].metadata)
        nb.cells[3] = md
    out = restore(submission(to_markdown), source())
    assert "double" not in out.solutions
    assert out.notes == ["the answer cell 'double' is no longer a code cell",
                         "the answer cell 'double' is missing from the submission"]

    def delete(nb):
        del nb.cells[3]
    out = restore(submission(delete), source())
    assert out.notes == ["the answer cell 'double' is missing from the submission"]
