"""Issue 12 for ps2_gradients: the notebook teaches by making students derive.

No cell of the student notebook (markdown, docstrings, public tests and their messages)
states the gradient that the derivation exercises ask for; the intro follows the shared
conventions; the written answers have marking guides whose parts add up; the numbers of
the learning-rate question are right; and a failing public or hidden test names the
earlier function that is probably at fault.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
from fractions import Fraction
from pathlib import Path

import matplotlib
import nbformat
import pytest
from conftest import ROOT

from grader import config
from grader.grade.runner import grade_notebook
from grader.notebooks import cells
from grader.notebooks.guides import written_answers
from grader.samples import build_submission

PS = "ps2_gradients"
SOURCE = ROOT / "source" / PS / f"{PS}.ipynb"
RELEASE = ROOT / "release" / PS / f"{PS}.ipynb"

# The forms in which the gradient of the MSE (for H = Wx or H = XW + b) was handed out
# before issue 12, in LaTeX, in text or in code, with or without the constant: each
# pattern, what it catches, and a snippet of the removed text it matched.
GIVEAWAYS = [
    (r"\.T\s*@|\.t\(\)\s*@|\.transpose\([^)]*\)\s*@|torch\.(?:mm|matmul)\(\s*\w+\s*\.\s*(?:T\b|t\(\))",
     "a transposed product in code (X.T @ r)",
     "dW = (2.0 / m) * (X.T @ residual)"),
    (r"\^\s*\{?\s*(?:\\top|\\intercal|T)\b",
     "a transpose in LaTeX or text (X^\\top r, X^T)",
     r"\frac{\partial\,\mathrm{cost}}{\partial W} = \frac{2}{m} X^\top r \quad (d \times 1)"),
    (r"\\frac\s*\{\s*2\s*\}\s*\{",
     "the constant 2/N in LaTeX",
     r"w_j = -\alpha \cdot \frac{2}{m}\sum_i (0 - y^{(i)}) x_{ij}"),
    (r"\b2(?:\.0)?\s*/\s*(?:[mnN]\b|[0-9]|X\.shape\[0\]|len\()",
     "the constant 2/N in text or code, or the lecture's numbers put through it ((2/3)(...))",
     "dcost/dW = (2/3)(-1 - 4 - 9) = -9.3333"),
    (r"2\s*\*\s*torch\.mean\(",
     "the lecture's gradient code, 2 * torch.mean((W * x - y) * x)",
     "gradient = 2 * torch.mean((W * x_train - y_train) * x_train)"),
    (r"-\s*y\w*\s*\)\s*\*\s*[xX]",
     "a residual times the input, in code",
     "(W * x_train - y_train) * x_train"),
    (r"\)\s*(?:\\cdot\s*|\*\s*)?x\^\{\s*\(i\)\s*\}",
     "a residual times x^{(i)}, in LaTeX",
     r"whose derivative is $\frac{1}{m}\sum_i (Wx^{(i)} - y^{(i)})x^{(i)}$"),
    (r"(?:\)|y\^\{\(i\)\})\s*(?:\\cdot\s*)?[xX]_\{\s*i\s*,?\s*j\s*\}",
     "a residual (or target) times x_ij, in LaTeX",
     r"= \alpha \cdot \frac{2}{5}\sum_i y^{(i)} x_{ij}"),
    (r"2\s*\(\s*w\s*\.\s*x\s*-|2\s*\*\s*\(\s*\(\s*w\s*\*\s*x\s*\)",
     "the one-sample gradient 2 (w.x - y) x in a public test",
     "expected = 2 * ((w * x).sum() - 1.0) * x"),
]

# What the notebook may say: the cost, shapes, expected values, other derivatives.
ALLOWED = [
    r"$$\mathrm{cost}(W, b) = \frac{1}{N}\sum_{i=1}^{N} \left(x^{(i)} W + b - y^{(i)}\right)^2 .$$",
    r"$\mathrm{cost}(W) = \frac{1}{2N}\sum_{i=1}^{N}\left(Wx^{(i)} - y^{(i)}\right)^2$",
    "dcost/dW should be -9.3333 (that is -28/3), got",
    "return torch.mean((hypothesis(X, W, b) - y) ** 2)",
    "torch.mean((X @ Wr + br - Y) ** 2).backward()",
    "expected = torch.mean((x * 0.0933333 + 0.04 - y) ** 2).item()",
    "d/dw exp(w.x / 10) = exp(w.x / 10) x / 10",
    "costs 29661.8 / 9298.5 / 1.619",
    r"$H(x^{(i)}) - y^{(i)}$ is the error of the prediction",
    r"$x^{(i)} W + b = \sum_{k=1}^{d} X_{ik} W_k + b$, where $W_j$ contributes $X_{ij}$?",
]


def _giveaways(text: str) -> list[str]:
    return [what for pattern, what, _ in GIVEAWAYS if re.search(pattern, text)]


def _release_cells() -> list[nbformat.NotebookNode]:
    return nbformat.read(RELEASE, as_version=4).cells


@pytest.mark.parametrize("pattern,what,removed", GIVEAWAYS, ids=[w for _, w, _ in GIVEAWAYS])
def test_each_giveaway_pattern_catches_the_text_that_was_removed(pattern, what, removed):
    assert re.search(pattern, removed), f"{what}: the pattern misses {removed!r}"


@pytest.mark.parametrize("text", ALLOWED)
def test_what_the_notebook_may_say_is_not_a_giveaway(text):
    assert not _giveaways(text), (text, _giveaways(text))


def test_the_student_notebook_hands_out_no_gradient_formula():
    # Every cell of the release: markdown, docstrings, public tests and their messages.
    found = [(cells.grade_id(c), what) for c in _release_cells() for what in _giveaways(c.source)]
    assert not found, found


def test_model_answers_keep_the_derivation_for_the_graders():
    answers = written_answers(nbformat.read(SOURCE, as_version=4))
    assert _giveaways(answers["written_dcost_dW"][0]), "the model answer should still derive it"


def _intro() -> str:
    return _release_cells()[0].source


def test_intro_has_goals_tasks_how_it_works_and_glossary_in_this_order():
    intro = _intro()
    heads = ["**Learning goals.**", "**Tasks.**", "**How this notebook works.**",
             "**Glossary / 용어.**"]
    at = [intro.find(h) for h in heads]
    assert all(i > 0 for i in at) and at == sorted(at), dict(zip(heads, at, strict=True))
    assert "| part | what you write | points (hidden tests) | public test | estimated time |" in intro


def test_task_table_lists_every_graded_item_with_its_points():
    source = nbformat.read(SOURCE, as_version=4)
    table = _intro().split("**Tasks.**")[1].split("**How this notebook works.**")[0]
    rows = [r for r in table.splitlines() if r.startswith("|") and "`" in r]
    graded = [c for c in source.cells if cells.is_code_solution(c) or cells.is_written_answer(c)]
    assert len(rows) == len(graded)
    total = 0.0
    for cell, row in zip(graded, rows, strict=True):
        gid, points = cells.grade_id(cell), cells.points(cell)
        assert f"`{gid}" in row, (gid, row)
        assert row.split("|")[3].strip().startswith(f"{points:g}"), (gid, row)
        total += points
    publics = sum(cells.points(c) for c in source.cells if cells.is_public_test(c))
    assert f"**total: {total + publics:g} points**" in table, table
    assert "**about" in table and "hours**" in table


def test_glossary_has_korean_terms():
    glossary = _intro().split("**Glossary / 용어.**")[1]
    rows = [r for r in glossary.splitlines() if r.startswith("|")][2:]
    assert 8 <= len(rows) <= 20, len(rows)
    for row in rows:
        english, korean = (x.strip() for x in row.split("|")[1:3])
        assert english and re.search("[가-힣]", korean), row
    for term in ("경사하강법", "학습률", "평균제곱오차", "가중치", "편향", "연쇄 법칙"):
        assert term in glossary, term


def test_intro_states_the_graders_limits():
    # SPEC section 8: what decides points appears in the notebook, taken from the config.
    for profile in config.PROFILES.values():
        limits = profile.limits
        assert f"at most {limits.call_timeout_s:g} seconds" in _intro(), profile.name
        assert f"at most {limits.notebook_timeout_s:g} seconds" in _intro(), profile.name


def test_samples_are_n_not_m():
    markdown = "\n".join(c.source for c in _release_cells() if c.cell_type == "markdown")
    for pattern in (r"\\frac\{1\}\{2?m\}", r"\^\{?m\}?(?![a-z])", r"\(m,\s*[d1]\)", r"\bm samples"):
        assert not re.search(pattern, markdown), pattern
    assert "the lecture writes $m$ for the number of samples" in markdown


def test_marking_guides_name_what_earns_each_point():
    source = nbformat.read(SOURCE, as_version=4)
    guides = written_answers(source)
    assert list(guides) == ["written_dcost_dW", "written_lr_divergence"]
    for cell in source.cells:
        if cells.is_written_answer(cell):
            points = cells.points(cell)
            guide = guides[cells.grade_id(cell)][1]
            assert guide.startswith(f"*Marking guide ({points:g} points):*")
            parts = [float(p) for p in re.findall(r"\*\*(\d+(?:\.\d+)?) points?\*\*", guide)]
            assert sum(parts) == points, parts


def test_each_written_question_sits_in_a_locked_cell_right_before_its_answer():
    nb = nbformat.read(SOURCE, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cells.is_written_answer(cell):
            question = nb.cells[i - 1]
            assert question.cell_type == "markdown" and cells.is_locked(question)
            assert "Question" in question.source and "graded by hand" in question.source


def _steps(lr: Fraction, steps: int = 40) -> list[Fraction]:
    """Exact gradient descent on cost(W) = mean((W x - x)^2), x = (1, 2, 3), from W = 0."""
    xs, w, ws = (1, 2, 3), Fraction(0), []
    for _ in range(steps):
        w -= lr * Fraction(2, 3) * sum((w * x - x) * x for x in xs)
        ws.append(w)
    return ws


def test_the_learning_rate_boundaries_of_the_model_answer_are_right():
    answer = written_answers(nbformat.read(SOURCE, as_version=4))["written_lr_divergence"][0]
    for claim in (r"\frac{28}{3}(W - 1)", r"1 - \frac{28}{3}\alpha", r"\frac{3}{28} \approx 0.107",
                  r"\frac{3}{14} \approx 0.214", r"q^2 \approx 0.822", r"\approx 0.907"):
        assert claim in answer, claim
    low, high = Fraction(3, 28), Fraction(3, 14)
    for lr in (Fraction(1, 100), low * Fraction(99, 100)):             # monotone
        ws = _steps(lr)
        assert all(a < b < 1 for a, b in itertools.pairwise(ws)), lr
    assert _steps(low, 3) == [1, 1, 1]                                   # one step
    for lr in (low * Fraction(101, 100), high * Fraction(99, 100)):    # oscillating, converging
        d = [w - 1 for w in _steps(lr)]
        assert all(a * b < 0 and abs(b) < abs(a) for a, b in itertools.pairwise(d)), lr
    assert _steps(high, 4) == [2, 0, 2, 0]                              # constant amplitude
    d = [w - 1 for w in _steps(high * Fraction(101, 100))]               # divergence
    assert all(a * b < 0 and abs(b) > abs(a) for a, b in itertools.pairwise(d))
    assert _steps(Fraction(1, 100), 1) == [Fraction(28, 300)]           # W_1 = 0.0933
    q = 1 - Fraction(28, 3) * Fraction(1, 100)
    assert round(float(q), 3) == 0.907 and round(float(q * q), 3) == 0.822


def test_the_learning_rate_demo_runs_without_answers_and_prints_no_boundary():
    nb = nbformat.read(SOURCE, as_version=4)
    code = {cells.grade_id(c): c.source for c in nb.cells if c.cell_type == "code"}
    demo = code["demo_lr_divergence"]
    for boundary in ("3/28", "3/14", "0.107", "0.214", "28 / 3", "28/3"):
        assert boundary not in demo, boundary
    matplotlib.use("Agg")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code["setup"] + "\n" + demo, {"__name__": "demo"})   # no student function needed
    printed = out.getvalue()
    assert printed.count("lr = ") == 4 and "0.107" not in printed and "0.214" not in printed


# ---------------------------------------------------------------- earlier functions named


def _grade(tmp_path: Path, name: str, only: set[str], **kwargs) -> dict[str, str]:
    nb = build_submission(PS, **kwargs)
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(path, PS, device="cpu", only=only)
    return {t.name: t.output for t in result.tests if t.score < t.max_score}


@pytest.mark.slow
def test_a_wrong_mse_gradients_is_named_by_the_gradient_descent_tests(tmp_path):
    lecture = "gradient_descent: the lecture's one-variable and exam-score numbers"
    failed = _grade(tmp_path, "summed", {"public: test_gradient_descent", lecture},
                    substitutions={"mse_gradients": [("(2.0 / m) * ", "2.0 * ")]})
    assert "your mse_gradients does not pass its own test above: fix it first" in \
        failed["public: test_gradient_descent"], failed
    assert "mse_cost" not in failed["public: test_gradient_descent"], failed
    assert "call your mse_gradients, which gives wrong results" in failed[lecture], failed
    blank = "def mse_gradients(X, y, W, b):\n    raise NotImplementedError()\n"
    failed = _grade(tmp_path, "blank_gradients", {lecture}, replace={"mse_gradients": blank})
    assert "stopped inside your mse_gradients, which raised NotImplementedError" in failed[lecture]


@pytest.mark.slow
def test_autograd_in_mse_gradients_is_named_where_gradient_descent_breaks_the_rule(tmp_path):
    autograd = ("def mse_gradients(X, y, W, b):\n"
                "    W = W.detach().clone().requires_grad_(True)\n"
                "    b = b.detach().clone().requires_grad_(True)\n"
                "    torch.mean((hypothesis(X, W, b) - y) ** 2).backward()\n"
                "    return W.grad, b.grad\n")
    names = {"gradient_descent: the lecture's one-variable and exam-score numbers",
             "gradient_descent: works with autograd switched off",
             "gradient_descent: hand-written updates, no autograd (source check)"}
    failed = _grade(tmp_path, "autograd", names, replace={"mse_gradients": autograd})
    assert set(failed) == names - {"gradient_descent: the lecture's one-variable and exam-score numbers"}
    for output in failed.values():
        assert "your mse_gradients, which uses autograd" in output, failed


@pytest.mark.slow
def test_a_wrong_mse_cost_is_named_by_the_fit_with_autograd_tests(tmp_path):
    lecture = "fit_with_autograd: the lecture's numbers"
    failed = _grade(tmp_path, "cost_sum", {"public: test_fit_with_autograd", lecture},
                    substitutions={"mse_cost": [("return torch.mean(", "return torch.sum(")]})
    assert "your mse_cost does not pass its own test above" in failed["public: test_fit_with_autograd"]
    assert "call your mse_cost, which gives wrong results" in failed[lecture], failed


@pytest.mark.slow
def test_a_wrong_gradient_descent_is_named_by_the_fit_with_autograd_public_test(tmp_path):
    failed = _grade(tmp_path, "gd_sum", {"public: test_fit_with_autograd"},
                    substitutions={"gradient_descent": [("W = W - lr * dW", "W = W - 2 * lr * dW")]})
    assert "your gradient_descent, which does not pass its own test above" in \
        failed["public: test_fit_with_autograd"], failed
