"""``python -m grader new psN_name``: a new problem set that already passes every check.

An instructor's first problem set should start from something the whole pipeline accepts
(lint, release, grading), so that each later edit is checked against a working baseline.
``new`` writes the source notebook (a title with its totals row, a setup cell, one example
function with a public test, one written answer) and the hidden-test package registered
to the function's ``grade_id``; nothing else in the grader changes, because sets and their
hidden tests are found by convention (``course.Course.problem_sets``, ``hidden``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from .config import Settings
from .course import short_name
from .hidden import HIDDEN_DIR
from .notebooks import cells
from .notebooks.normalize import dumps

NAME = re.compile(r"^[a-z][a-z0-9]*_[a-z0-9_]+$")
FUNCTION, POINTS, WRITTEN, WRITTEN_POINTS = "double", 3, "written_example", 2

SOLUTION = f'''def {FUNCTION}(x):
    """Return ``2 * x`` for a tensor ``x`` (replace with your exercise's docstring)."""
    ### BEGIN SOLUTION
    raise NotImplementedError("write the reference solution here")
    ### END SOLUTION'''

PUBLIC_TEST = f'''import torch

got = {FUNCTION}(torch.tensor([1.0, -2.0]))
assert torch.equal(got, torch.tensor([2.0, -4.0])), "{FUNCTION}([1, -2]) should be [2, -4]"'''

HIDDEN = f'''"""Hidden tests for {{name}}: one package per set, found by its name (``grader.hidden``).

Register each test to the ``grade_id`` of the cell it scores; the points of a cell are the
sum of its tests' points (``python -m grader lint`` checks both).
"""

from __future__ import annotations

import torch

from ..framework import Registry, score_fraction

registry = Registry()
TESTS = registry.tests
test = registry.test


@test("{FUNCTION}", {POINTS}, "{FUNCTION}: random tensors, compared with the reference solution")
def {FUNCTION}_random(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 10
    for _ in range(total):
        x = torch.randn(int(torch.randint(1, 6, (1,), generator=g)), generator=g)
        got = ctx.student.{FUNCTION}(x)
        want = ctx.ref.{FUNCTION}(x)
        if isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(got, want):
            ok += 1
    score_fraction(ok, total, "{FUNCTION} is right for {{{{passed}}}} of {{{{total}}}} random tensors")
'''


class BadSetName(ValueError):
    """A name ``new`` refuses (the CLI exits 2 with it)."""


def skeleton(name: str) -> nbformat.NotebookNode:
    """The source notebook of a new set; its totals row states what the cells grade."""
    title = (f"# {name}\n\nReplace this with the set's introduction.\n\n"
             "| | answers (hidden tests and by hand) | public tests |\n|---|---|---|\n"
             f"| **total** | **{POINTS + WRITTEN_POINTS}** | **1** |")
    return nbformat.v4.new_notebook(cells=[
        cells.markdown("md_title", title),
        cells.locked_code("setup", "import torch"),
        cells.markdown(f"md_ex_{FUNCTION}", f"### Exercise 1 — `{FUNCTION}` ({POINTS} points)\n\n"
                       f"Write `{FUNCTION}(x)`, which returns `2 * x`."),
        cells.solution(FUNCTION, SOLUTION, POINTS),
        cells.public_test(f"test_{FUNCTION}", PUBLIC_TEST, 1),
        cells.markdown(f"md_{WRITTEN}", f"### Question 1 ({WRITTEN_POINTS} points, graded by hand)"
                       "\n\nWhy is `2 * x` the same as `x + x` for a tensor?"),
        cells.written_answer(WRITTEN, WRITTEN_POINTS, "Model answer: multiplication by 2 and "
                             "addition are applied element by element."),
    ], metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}})


def create(name: str, course_root: Path, hidden_dir: Path = HIDDEN_DIR) -> list[Path]:
    """Write the new set's source notebook and hidden-test package; the paths written."""
    if not NAME.match(name):
        raise BadSetName(f"{name!r} is not a set name like ps6_attention (lower case, a short "
                         "name, an underscore, then words)")
    notebook = course_root / "source" / name / f"{name}.ipynb"
    package = hidden_dir / name / "__init__.py"
    for path in (notebook, package):
        if path.exists():
            raise BadSetName(f"{path} exists already; pick another name or edit it")
    notebook.parent.mkdir(parents=True)
    notebook.write_text(dumps(skeleton(name)))
    package.parent.mkdir(parents=True)
    package.write_text(HIDDEN.format(name=name))
    return [notebook, package]


def main(*, name: str, settings: Settings | None = None) -> int:
    root = (settings or Settings.from_env()).course.root
    try:
        written = create(name, root)
    except BadSetName as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    short = short_name(name)
    print("created:\n" + "".join(f"  {p}\n" for p in written))
    print(f"""next steps:
  1. write the reference solution of `{FUNCTION}` between the solution markers in
     {written[0].relative_to(root)} (or rename it: grade_id = function name, in both files)
  2. add exercises: cells.solution / cells.public_test (docs/authoring.md), and hidden tests
     registered to each grade_id in {written[1].parent}
  3. python -m grader normalize source && python -m grader release {short}
  4. python -m grader lint {short}
  5. python -m grader grade {written[0].relative_to(root)} --assignment {short}   # full marks
     python -m grader grade release/{name}/{name}.ipynb --assignment {short}   # zero""")
    return 0
