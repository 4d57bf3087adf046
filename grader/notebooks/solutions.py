"""The reference solutions, read from the source notebooks (their single home).

The trusted grader executes the source notebook's setup cells (locked code cells whose
``grade_id`` starts with ``setup``) and its solution cells, in order, into a fresh module.
Nothing here ever runs student code.
"""

from __future__ import annotations

import contextlib
import io
import threading
import types
from functools import cache
from pathlib import Path

import nbformat

from . import cells


def reference_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if cells.is_code_solution(c)
            or (cells.is_setup(c) and not cells.skip_when_grading(c))]


_LOCK = threading.Lock()


def load_reference_module(path: str) -> types.ModuleType:
    """Execute the reference cells of the notebook at ``path`` (cached per process)."""
    with _LOCK:  # redirect_stdout is process-wide; load one notebook at a time
        return _load(path)


@cache
def _load(path: str) -> types.ModuleType:
    nb = nbformat.read(path, as_version=4)
    module = types.ModuleType(f"reference_{Path(path).stem}")
    module.__file__ = path
    with contextlib.redirect_stdout(io.StringIO()):  # setup cells print versions
        for cell in reference_cells(nb):
            code = compile(cell.source, f"{path}:{cells.grade_id(cell)}", "exec")
            exec(code, module.__dict__)
    return module
