"""Issue 12, ps5: what the notebook teaches (the lecture's worked numbers, the intro's
conventions), average pooling, and messages that name the function really at fault."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import nbformat
import pytest
import torch
from conftest import ROOT

from grader.grade.runner import grade_notebook
from grader.hidden import hidden_rules_for, hidden_tests_for, static
from grader.hidden.ps5_mnist_cnn.by_hand import LIBRARY_AVERAGING
from grader.notebooks import cells
from grader.notebooks.solutions import execute_reference
from grader.samples import build_submission

PS = "ps5_mnist_cnn"


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(ROOT / "source" / PS / f"{PS}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def by_id(nb):
    return {cells.grade_id(c): c for c in nb.cells}


@pytest.fixture(scope="module")
def reference():
    return execute_reference(PS)


# ---------------------------------------------------------------- the intro


def test_the_intro_has_the_shared_sections_in_order(by_id):
    intro = by_id["intro"].source
    marks = ["# Problem set 5", "**Learning goals.**", "After this problem set you can",
             "**Tasks.**", "| part | what you write | points (hidden tests) | public test | estimated time |",
             "**How this notebook works.**", "**Glossary / 용어.**", "| English | 한국어 | meaning |"]
    positions = [intro.index(m) for m in marks]
    assert positions == sorted(positions)


def test_the_task_table_lists_every_graded_item_with_its_points(nb, by_id):
    intro = by_id["intro"].source
    table = intro[intro.index("| part | what you write"):intro.index("**How this notebook works.**")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()
            if line.startswith("|") and "---" not in line][1:]
    solutions = {cells.grade_id(c): cells.points(c) for c in nb.cells if cells.is_code_solution(c)}
    listed = {row[1].strip("`"): float(row[2]) for row in rows if row[1]}
    assert listed == solutions
    publics = [c for c in nb.cells if cells.is_public_test(c)]
    total = rows[-1]
    assert total[0] == "**total**"
    assert float(total[2].strip("*")) == sum(solutions.values())
    assert float(total[3].strip("*")) == sum(cells.points(c) for c in publics)
    assert "hours" in total[4]
    # in notebook order
    order = [cells.grade_id(c) for c in nb.cells if cells.is_code_solution(c)]
    assert [row[1].strip("`") for row in rows if row[1]] == sorted(order, key=lambda g: (
        g == "train_model", order.index(g)))


def test_the_glossary_has_the_lectures_terms(by_id):
    intro = by_id["intro"].source
    glossary = intro[intro.index("| English | 한국어 | meaning |"):]
    rows = [line for line in glossary.splitlines() if line.startswith("|") and "---" not in line][1:]
    assert 8 <= len(rows) <= 20
    for english, korean in [("convolution", "합성곱"), ("filter / kernel", "필터 / 커널"),
                            ("stride", "스트라이드"), ("padding", "패딩"), ("pooling", "풀링"),
                            ("feature map", "특성 맵"), ("learning rate", "학습률")]:
        assert any(english in row and korean in row for row in rows), english


def test_no_sentence_promises_more_points_for_a_faster_design(nb):
    text = " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    assert "earns more" not in text and "earn more" not in text
    assert "not extra points" in text


def test_every_answer_docstring_states_shapes_and_dtypes(nb):
    for cell in nb.cells:
        if not cells.is_code_solution(cell):
            continue
        outside = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", cell.source, flags=re.S)
        tree = ast.parse(outside)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name != "__init__":
                doc = ast.get_docstring(node) or ""
                assert re.search(r"Returns|->", doc), (node.name, doc)
                assert re.search(r"int64|uint8|float32|float|\bint\b", doc), (node.name, doc)
                if node.name != "conv_output_size":
                    assert re.search(r"\((N|H|k_h|H_out)\b", doc), (node.name, doc)


# ---------------------------------------------------------------- the lecture's numbers


def test_the_lectures_19_9_example_is_taught_and_checked(by_id, reference):
    assert "19.9" in by_id["lesson_convolution"].source
    test = by_id["test_conv2d_single"].source
    assert "19.9" in test and "[0.0, 0.3, 0.5], [0.0, 0.8, 1.0]" in test
    image = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    kernel = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.3, 0.5], [0.0, 0.8, 1.0]])
    assert reference.conv2d_single(image, kernel).item() == pytest.approx(19.9, abs=1e-5)


def _run_demo(by_id, namespace) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(by_id["demo_patterns"].source, "demo_patterns", "exec"), namespace)
    return out.getvalue()


def test_the_x_and_o_demo_reproduces_the_slides_and_corrects_the_minus_4(by_id, reference):
    printed = _run_demo(by_id, {"torch": torch, "conv2d_single": reference.conv2d_single})
    # "Summaries our results": the four pictures' eight numbers, as on the slide
    assert "summary of X: [1, -1, -1, 1, -1, 1, 1, -1]" in printed
    assert "summary of O: [-1, 1, 1, -1, 1, -1, -1, 1]" in printed
    assert "summary of /: [-1, -1, -1, -1, -1, 1, 1, -1]" in printed
    assert "summary of \\: [1, -1, -1, 1, -1, -1, -1, -1]" in printed
    # "Prediction": 8, 4 and 4 as on the slides; O scores -8 (the slide's -4 is a slip)
    assert "{'X': 8, 'O': -8, '\\\\': 4, '/': 4}" in printed, printed
    lesson = by_id["lesson_patterns"].source
    assert "−8" in lesson and "−4" in lesson and "slip" in lesson


def test_the_demo_asks_for_conv2d_single_on_the_blank_release(by_id):
    def blank(*args, **kwargs):
        raise NotImplementedError()

    printed = _run_demo(by_id, {"torch": torch, "conv2d_single": blank})
    assert "write conv2d_single above first" in printed


def test_pooling_is_taught_max_and_average_side_by_side(by_id, reference):
    lesson = by_id["lesson_pooling"].source
    assert "max pool" in lesson and "average pool" in lesson
    x = torch.tensor([[1.0, 3, 2, 0], [4, 6, 5, 1], [7, 2, 9, 8], [0, 1, 3, 4]])
    assert reference.max_pool2d_single(x, 2).tolist() == [[6, 5], [7, 9]]
    assert reference.avg_pool2d_single(x, 2).tolist() == [[3.5, 2], [2.5, 6]]
    assert "3.5 & 2\\\\ 2.5 & 6" in lesson


# ---------------------------------------------------------------- average pooling


def test_avg_pool2d_single_is_graded_like_the_other_by_hand_functions(nb, by_id, reference):
    order = [cells.grade_id(c) for c in nb.cells]
    assert order.index("test_max_pool2d_single") < order.index("avg_pool2d_single") \
        < order.index("test_avg_pool2d_single")
    assert cells.points(by_id["avg_pool2d_single"]) == 2
    tests = [t for t in hidden_tests_for(PS) if t.grade_id == "avg_pool2d_single"]
    assert sum(t.points for t in tests) == 2 and any(t.kind == "static" for t in tests)
    assert "pooling" in hidden_rules_for(PS)["avg_pool2d_single"]
    x = torch.randint(0, 9, (7, 9))
    got = reference.avg_pool2d_single(x, 2)
    assert got.dtype == torch.float32 and got.shape == (3, 4)
    assert torch.allclose(got, torch.nn.functional.avg_pool2d(x[None, None].float(), 2)[0, 0])


@pytest.mark.parametrize("code, found", [
    ("import torch.nn.functional as F\ndef avg_pool2d_single(x, kernel_size):\n"
     "    return F.avg_pool2d(x[None, None], kernel_size)[0, 0]\n", "pooling"),
    ("import torch.nn as nn\ndef avg_pool2d_single(x, kernel_size):\n"
     "    return nn.AvgPool2d(kernel_size)(x[None])[0]\n", "AvgPool2d"),
    ("import torch\nimport torch.nn.functional as F\ndef avg_pool2d_single(x, kernel_size):\n"
     "    k = torch.ones(1, 1, kernel_size, kernel_size) / kernel_size ** 2\n"
     "    return F.conv2d(x[None, None], k, stride=kernel_size)[0, 0]\n", "conv2d"),
])
def test_the_static_rule_finds_library_averaging(code, found):
    findings = static.forbidden([code], LIBRARY_AVERAGING, "avg_pool2d_single")
    assert findings and any(found in str(f) for f in findings), findings


def test_the_static_rule_lets_a_hand_written_average_through(by_id):
    assert not static.forbidden([by_id["avg_pool2d_single"].source], LIBRARY_AVERAGING,
                                "avg_pool2d_single")


# ---------------------------------------------------------------- messages that blame the right function


def _grade(tmp_path: Path, name: str, only: set[str], **kwargs):
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(build_submission(PS, **kwargs), path)
    return grade_notebook(path, PS, device="cpu", only=only)


FLOATS_SCALED_AGAIN = ("batch = batch.float() / 255 if batch.dtype == torch.uint8 else batch.float()",
                       "batch = batch.float() / 255")
ARGMIN = ("predictions.append(model(batch).argmax(dim=1).cpu())",
          "predictions.append(model(batch).argmin(dim=1).cpu())")


def test_evaluate_accuracy_failures_point_at_a_wrong_predict(tmp_path):
    result = _grade(tmp_path, "predict-scales-again", {"evaluate_accuracy"},
                    substitutions={"predict": [FLOATS_SCALED_AGAIN]})
    hidden = [t for t in result.tests if t.grade_id == "evaluate_accuracy"]
    assert hidden and not any(t.passed for t in hidden)
    assert all("fix predict first" in t.output for t in hidden), [t.output for t in hidden]


def test_the_public_evaluate_accuracy_test_checks_predict_first(tmp_path):
    result = _grade(tmp_path, "predict-argmin", {"public: test_evaluate_accuracy"},
                    substitutions={"predict": [ARGMIN]})
    public = next(t for t in result.tests if t.name == "public: test_evaluate_accuracy")
    assert public.score == 0 and "fix predict first" in public.output, public.output


def test_the_public_predict_test_catches_a_scaling_mismatch(tmp_path):
    result = _grade(tmp_path, "predict-scales-again", {"public: test_predict"},
                    substitutions={"predict": [FLOATS_SCALED_AGAIN]})
    public = next(t for t in result.tests if t.name == "public: test_predict")
    assert public.score == 0 and "divided by 255" in public.output, public.output
