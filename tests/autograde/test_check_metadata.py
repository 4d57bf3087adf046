"""The gradebook step's metadata check: nbgrader's checks, its schema checked once.

``grader.autograde.preprocessors.check_metadata.CheckCellMetadata`` replaces nbgrader's in
both autograde passes (``nbgrader_config.py``); it must accept and refuse exactly what
nbgrader's accepts and refuses, and check nbgrader's schema once per notebook, not once
per cell (a fifth of recording a submission).
"""

from __future__ import annotations

import copy

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheck

from grader.autograde.preprocessors.check_metadata import CheckCellMetadata
from grader.course import Course

ROOT = Course()


def _source(ps: str = "ps1_tensors"):
    return nbformat.read(str(ROOT.source_notebook(ps)), as_version=4)


def _graded_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


def _corrupt_points(nb):
    _graded_cell(nb).metadata.nbgrader["points"] = "three"


def _no_grade_id(nb):
    del _graded_cell(nb).metadata.nbgrader["grade_id"]


def _markdown_grade_only(nb):
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": False,
                                 "grade_id": "q", "points": 1, "schema_version": 3}


def _duplicate_id(nb):
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    cells[1].metadata.nbgrader["grade_id"] = cells[0].metadata.nbgrader["grade_id"]


@pytest.mark.parametrize("corrupt", [_corrupt_points, _no_grade_id, _markdown_grade_only,
                                     _duplicate_id])
def test_it_refuses_what_nbgrader_refuses(corrupt):
    nb = _source()
    corrupt(nb)
    for check in (NbgraderCheck(), CheckCellMetadata()):
        with pytest.raises(ValidationError):
            check.preprocess(copy.deepcopy(nb), {})


def test_it_accepts_every_source_notebook_as_nbgrader_does():
    for ps in ROOT.problem_sets():
        nb = _source(ps)
        NbgraderCheck().preprocess(copy.deepcopy(nb), {})
        CheckCellMetadata().preprocess(copy.deepcopy(nb), {})


def test_the_schema_is_checked_once_per_notebook_not_once_per_cell(monkeypatch):
    cls = jsonschema.validators.validator_for(MetadataValidator().schema)
    calls = []
    original = cls.check_schema.__func__
    monkeypatch.setattr(cls, "check_schema",
                        classmethod(lambda c, s, *a, **k: calls.append(1) or original(c, s, *a, **k)))
    nb = _source()
    graded = sum(1 for c in nb.cells if "nbgrader" in c.metadata)
    assert graded > 5
    NbgraderCheck().preprocess(copy.deepcopy(nb), {})
    assert len(calls) == graded        # nbgrader's own: once per cell
    calls.clear()
    CheckCellMetadata().preprocess(copy.deepcopy(nb), {})
    assert len(calls) == 1
