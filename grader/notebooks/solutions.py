"""The reference solutions, read from the source notebooks (their single home).

The trusted grader executes the source notebook's setup cells (locked code cells whose
``grade_id`` starts with ``setup``) and its solution cells, in order, into a fresh module.
Nothing here ever runs student code.
"""

from __future__ import annotations

import threading
import types
from functools import cache
from pathlib import Path

import nbformat

from .. import REPO_ROOT
from . import cells


def reference_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if cells.is_code_solution(c)
            or (cells.is_setup(c) and not cells.skip_when_grading(c))]


def source_notebook(ps_name_or_path: str | Path) -> Path:
    """``source/<ps>/<ps>.ipynb`` of this repository for a name; a path as given."""
    candidate = Path(ps_name_or_path)
    if candidate.suffix == ".ipynb":
        return candidate
    return REPO_ROOT / "source" / str(ps_name_or_path) / f"{ps_name_or_path}.ipynb"


def execute_reference(ps_name_or_path: str | Path, *, quiet: bool = True) -> types.ModuleType:
    """Run the reference cells into a new module (a fresh state on every call)."""
    path = source_notebook(ps_name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"no source notebook at {path}")
    nb = nbformat.read(path, as_version=4)
    module = types.ModuleType(f"reference_{path.stem}")
    module.__file__ = str(path)
    if quiet:
        # A module-level print, not redirect_stdout: that would swap sys.stdout for every
        # thread of a parallel batch while the notebook runs.
        module.print = _discard
    for cell in reference_cells(nb):
        exec(compile(cell.source, f"{path}:{cells.grade_id(cell)}", "exec"), module.__dict__)
    return module


def _discard(*args: object, **kwargs: object) -> None:
    """What the reference's setup cells print is for students, not for the grader's log."""


_LOCK = threading.Lock()


def load_reference_module(path: str) -> types.ModuleType:
    """The reference module for the grader, executed once per process and then cached."""
    with _LOCK:  # concurrent first calls from a batch's threads execute the notebook once
        return _cached(path)


@cache
def _cached(path: str) -> types.ModuleType:
    return execute_reference(path)
