"""Issue 2/3 acceptance for the source notebooks and their release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, present_sets

from grader.lint.release import SOLUTION_BLOCK, generate_fresh, leaked_lines, stale_files
from grader.notebooks import cells
from grader.notebooks.normalize import dumps

# SPEC section 2: the student API, one solution cell per name, plus the exercises issue 12
# added (softmax and cross-entropy, a validation split, average pooling).
SPEC_API = {
    "ps1_tensors": ["rank_and_shape", "take_columns", "broadcast_shape", "pairwise_sq_dists",
                    "mul_and_matmul", "reduce_along", "to_batches", "one_hot"],
    "ps2_gradients": ["hypothesis", "mse_cost", "mse_gradients", "numerical_gradient",
                      "gradient_descent", "fit_with_autograd"],
    "ps3_backprop": ["sigmoid", "sigmoid_prime", "init_params", "forward", "bce_loss",
                     "backward", "train_xor"],
    "ps4_modules": ["MultivariateLinearRegressionModel", "ExamScoresDataset", "make_loader",
                    "train_regression", "softmax", "cross_entropy", "SoftmaxClassifier",
                    "accuracy", "train_val_split", "fit_and_validate"],
    "ps5_mnist_cnn": ["conv_output_size", "conv2d_single", "max_pool2d_single", "CNN",
                      "build_model", "train_model", "predict", "evaluate_accuracy", "avg_pool2d_single"],
}
WRITTEN = {"ps2_gradients": ["written_dcost_dW", "written_lr_divergence"],
           "ps3_backprop": ["written_xor_single_layer"]}
SETS = present_sets()


def source(ps: str) -> Path:
    return ROOT / "source" / ps / f"{ps}.ipynb"


def release(ps: str) -> Path:
    return ROOT / "release" / ps / f"{ps}.ipynb"


def execute(path: Path, allow_errors: bool = False) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # As nbgrader validate does: the student's own training cells stay skipped. (Set here,
    # not once: nbgrader's in-process autograde deletes the variable when it finishes.)
    os.environ["NBGRADER_EXECUTION"] = "validate"
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def test_all_five_sets_exist():
    assert list(SPEC_API) == SETS, f"missing source notebooks: {set(SPEC_API) - set(SETS)}"


@pytest.mark.parametrize("ps", SETS)
def test_solution_cells_carry_exactly_the_spec_grade_ids(ps):
    nb = nbformat.read(source(ps), as_version=4)
    code_ids = [cells.grade_id(c) for c in nb.cells if cells.is_code_solution(c)]
    assert sorted(code_ids) == sorted(SPEC_API[ps])  # exactly these, each once
    written = [cells.grade_id(c) for c in nb.cells if cells.is_written_answer(c)]
    assert written == WRITTEN.get(ps, [])
    tests = [cells.grade_id(c) for c in nb.cells if cells.is_public_test(c)]
    assert {f"test_{n}" for n in SPEC_API[ps]} <= set(tests), "every function has a public test"
    for c in nb.cells:
        if cells.is_public_test(c):
            assert cells.is_locked(c) and cells.points(c) > 0


@pytest.mark.parametrize("ps", SETS)
def test_committed_without_outputs_and_normalised(ps):
    text = source(ps).read_text()
    nb = nbformat.reads(text, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, f"{ps}: cell {c.id} has outputs"
    assert dumps(nb) == text, f"{ps} is not normalised: run python -m grader normalize"


def test_output_check_catches_outputs(tmp_path):
    """The check above must fail on a notebook that carries outputs."""
    nb = nbformat.read(source(SETS[0]), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    code.execution_count = 1
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    from grader.notebooks.normalize import main

    assert main(paths=[bad], check=True) == 1


@pytest.mark.slow
@pytest.mark.parametrize("ps", SETS)
def test_source_executes_and_public_tests_pass(ps):
    nb = execute(source(ps))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors


@pytest.mark.slow
@pytest.mark.parametrize("ps", SETS)
def test_nbgrader_validate_source(ps):
    out = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(source(ps))],
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert "Success! Your notebook passes all the tests." in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("ps", SETS)
def test_release_equals_fresh_generation(ps, tmp_path):
    # The same check as `python -m grader lint` (release-stale): nbgrader's own
    # generate_assignment into a scratch course, compared file by file, byte for byte.
    fresh = generate_fresh(ROOT, ps, tmp_path)
    assert sorted(p.name for p in fresh.rglob("*") if p.is_file())
    assert stale_files(ROOT / "release" / ps, fresh) == [], \
        f"release/{ps} differs from a fresh generate_assignment: run python -m grader release"


@pytest.mark.parametrize("ps", SETS)
def test_no_solution_line_leaks_into_release(ps):
    nb = nbformat.read(source(ps), as_version=4)
    assert any(SOLUTION_BLOCK.search(c.source) for c in nb.cells), f"{ps} has no solution blocks"
    # lint's solution-leak rule: a source line between solution markers (or of a written
    # answer) that the source never shows outside them must not appear in the release.
    leaked = leaked_lines(nb, nbformat.read(release(ps), as_version=4))
    assert not leaked, f"solution lines found in release/{ps}: {sorted(leaked)[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("ps", SETS)
def test_every_public_test_fails_on_the_blank_release(ps):
    nb = execute(release(ps), allow_errors=True)
    tests = [c for c in nb.cells if cells.is_public_test(c)]
    assert tests
    passing = [cells.grade_id(c) for c in tests
               if not any(o.output_type == "error" for o in c.outputs)]
    assert not passing, f"public tests that pass on the blank {ps}: {passing}"
