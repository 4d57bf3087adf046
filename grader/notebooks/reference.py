"""The reference solutions, read from the source notebooks (their single home).

The grader, benchmarks and calibration scripts need the instructor's solutions as Python
objects. Rather than keep a second copy that could drift from the notebook, this module
executes the notebook's setup cells (``grade_id`` starting with ``setup``: imports,
seeding, constants) and then every code solution cell, in notebook order, into a fresh
module namespace. Demos, public tests and the student's training cells are not run.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import nbformat

from grader.notebooks import cells

SETUP_PREFIX = "setup"
REPO_ROOT = Path(__file__).resolve().parents[2]


def source_notebook(ps_name_or_path: str | Path) -> Path:
    """``source/<ps>/<ps>.ipynb`` for a problem-set name, or the given notebook path."""
    candidate = Path(ps_name_or_path)
    if candidate.suffix == ".ipynb":
        return candidate
    return REPO_ROOT / "source" / str(ps_name_or_path) / f"{ps_name_or_path}.ipynb"


def reference_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells that make up the reference: setup cells and solution cells, in order."""
    chosen = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cells.skip_when_grading(cell):
            continue
        gid = cells.grade_id(cell) or ""
        if cells.is_code_solution(cell) or (gid.startswith(SETUP_PREFIX) and cells.is_locked(cell)):
            chosen.append(cell)
    return chosen


def load_reference(ps_name_or_path: str | Path) -> dict[str, Any]:
    """Execute the source notebook's setup and solution cells; return the namespace.

    ``load_reference("ps5_mnist_cnn")["build_model"]()`` builds the reference model. Each
    call starts from a fresh module, so state never leaks between callers.
    """
    path = source_notebook(ps_name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"no source notebook at {path}")
    nb = nbformat.read(path, as_version=4)
    module = types.ModuleType(f"reference_{path.stem}")
    module.__file__ = str(path)
    namespace = module.__dict__
    for cell in reference_cells(nb):
        label = f"<{path.name}:{cells.grade_id(cell)}>"
        exec(compile(cell.source, label, "exec"), namespace)
    return namespace
