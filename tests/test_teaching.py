"""Issue 12: what the notebooks' public tests do to a student's work, and what they catch."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, present_sets
from conventions import check_intro

from grader.grade.runner import grade_notebook
from grader.notebooks import cells
from grader.samples import build_submission


def _module_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            names.update(t.id for t in ast.walk(node)
                         if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store | ast.Del))
    return names


@pytest.mark.parametrize("ps", present_sets())
def test_public_tests_never_overwrite_a_students_names(ps):
    # A public test cell that assigns x, X, W or model at the top level silently replaces
    # what a student's scratch cells built; each test lives in a function of its own.
    nb = nbformat.read(ROOT / "source" / ps / f"{ps}.ipynb", as_version=4)
    for cell in nb.cells:
        if cells.is_public_test(cell):
            public = {n for n in _module_level_names(cell.source) if not n.startswith("_")}
            assert not public, f"{ps} {cells.grade_id(cell)} sets {sorted(public)} at the top level"


def test_the_name_check_catches_top_level_assignments():
    assert _module_level_names("import torch\nx, (y, _z) = 1, (2, 3)\nfor i in []: pass") == {
        "torch", "x", "y", "_z", "i"}


def test_ps5_public_training_test_fails_a_train_model_that_does_not_train(tmp_path):
    lazy = "def train_model(model, images, labels, device, budget_s):\n    return model\n"
    nb = build_submission("ps5_mnist_cnn", replace={"train_model": lazy})
    path = Path(tmp_path) / "lazy.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(path, "ps5_mnist_cnn", device="cpu", only={"public: test_train_model"})
    public = next(t for t in result.tests if t.name == "public: test_train_model")
    assert public.score == 0, public.output
    assert "easy" in public.output and "50%" in public.output, public.output
    reference = build_submission("ps5_mnist_cnn")
    nbformat.write(reference, path)
    result = grade_notebook(path, "ps5_mnist_cnn", device="cpu", only={"public: test_train_model"})
    public = next(t for t in result.tests if t.name == "public: test_train_model")
    assert public.passed, public.output


@pytest.mark.parametrize("ps", present_sets())
def test_every_set_opens_with_goals_tasks_how_it_works_and_a_glossary(ps):
    nb = nbformat.read(ROOT / "source" / ps / f"{ps}.ipynb", as_version=4)
    assert check_intro(nb) == [], f"{ps}: " + "; ".join(check_intro(nb))
