"""The reference solutions as a plain namespace, for benchmarks and calibration scripts.

The cell selection (setup cells whose ``grade_id`` starts with ``setup``, then every code
solution cell, in notebook order) is :func:`grader.notebooks.solutions.reference_cells`,
the same convention the grader uses. Unlike the grader's cached module, every call here
executes the cells again into a fresh module, so a script that trains the reference model
twice starts from the same state both times.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import nbformat

from grader.notebooks import cells
from grader.notebooks.solutions import reference_cells

REPO_ROOT = Path(__file__).resolve().parents[2]


def source_notebook(ps_name_or_path: str | Path) -> Path:
    """``source/<ps>/<ps>.ipynb`` in this repository for a problem-set name; a path as given."""
    candidate = Path(ps_name_or_path)
    if candidate.suffix == ".ipynb":
        return candidate
    name = str(ps_name_or_path)
    return REPO_ROOT / "source" / name / f"{name}.ipynb"


def load_reference(ps_name_or_path: str | Path) -> dict[str, Any]:
    """Execute a source notebook's setup and solution cells; return their namespace.

    ``load_reference("ps5_mnist_cnn")["build_model"]()`` builds the reference model.
    Output printed by setup cells goes to stdout as usual.
    """
    path = source_notebook(ps_name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"no source notebook at {path}")
    nb = nbformat.read(path, as_version=4)
    module = types.ModuleType(f"reference_{path.stem}")
    module.__file__ = str(path)
    for cell in reference_cells(nb):
        code = compile(cell.source, f"{path}:{cells.grade_id(cell)}", "exec")
        exec(code, module.__dict__)
    return module.__dict__
