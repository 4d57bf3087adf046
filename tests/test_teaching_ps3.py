"""Issue 12 for ps3_backprop: the students derive backpropagation themselves.

The release notebook sets up the quantities and gives hints, but no cell (Markdown or locked
code) states the gradient formulas or computes them; the page leaves the written question's
*why* to the student; the numbers it quotes (the lecture's worked example, the float32 limits
of the sigmoid, the grader's limits) are true.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import torch
from conftest import ROOT

from grader import config
from grader.notebooks import cells

PS = "ps3_backprop"
RELEASE = ROOT / "release" / PS / f"{PS}.ipynb"
SOURCE = ROOT / "source" / PS / f"{PS}.ipynb"

# The give-away forms the notebook used to hand out (section 9.2's formulas, 9.3's quote of
# the lecture's loop, the demo that recomputed the lecture's gradients, the summary), as
# regular expressions: each matched the old release, none may match the new one.
GIVEAWAYS = {
    # Markdown (LaTeX)
    r"\^\{?\\top\}?\s*(\\,)?\s*\\delta": "a weight gradient a_1^T delta_2 or X^T delta_1",
    r"\\delta_\{?2\}?\s*(\\,)?\s*W_\{?2\}?\^": "the hidden error delta_2 W_2^T",
    r"\\odot\s*a_1": "the hidden sigmoid's derivative a_1 (1 - a_1) in delta_1",
    r"\\frac\{\\hat\s*y\s*-\s*y\}": "the output error (y_hat - y) / M",
    r"\(\\hat\s*y\s*-\s*y\)\s*/": "the output error (y_hat - y) / M",
    r"\\sum_\{n=1\}\^\{N\}\s*\\delta": "a bias gradient summed over the rows of delta",
    # Code
    r"\.T\s*@": "a transposed matrix product a1.T @ ... or X.T @ ...",
    r"@\s*[\w\[\]\"']*w2[\"'\]]*\.T\b": "the product with w2.T that passes the error back",
    r"torch\.transpose\(": "the lecture's torch.transpose(a1, 0, 1)",
    r"\*\s*a1\s*\*\s*\(\s*1(\.0)?\s*-\s*a1\s*\)": "* a1 * (1 - a1)",
    r"(?i)\by_?pred\s*-\s*y": "the output error Y_pred - Y",
    r"torch\.mean\(\s*d_": "the lecture's bias update torch.mean(d_b, 0)",
    r"\bd_(Y_pred|l1|l2|w1|w2|b1|b2)\b": "the lecture's gradient variables d_l2, d_w2, ...",
    r"\.(mean|sum)\(\s*(dim\s*=\s*)?0\s*\)": "a bias gradient reduced over the batch",
}

# Lines of the old notebook, one per pattern: proof that each pattern catches what it names.
OLD_LINES = [
    r"\frac{\partial L}{\partial W_2} = a_1^{\top}\,\delta_2 \quad (h \times n_{out}),\qquad",
    r"\frac{\partial L}{\partial a_1} = \delta_2\, W_2^{\top} \quad (N \times h),\qquad",
    r"\big(\delta_2 W_2^{\top}\big) \odot a_1 \odot (1 - a_1),",
    r"\delta_2 := \frac{\partial L}{\partial z_2} = \frac{\hat y - y}{M} \qquad (N \times n_{out}).",
    r"output error is simply $\delta_2 = (\hat y - y)/M$; the weight gradients are",
    r"\frac{\partial L}{\partial b_2} = \sum_{n=1}^{N} \delta_2[n, :] \quad (n_{out},).",
    "d_w1 = X_xor.T @ d_l1",
    'd_l1 = (d_l2 @ demo_params["w2"].T) * a1 * (1 - a1)',
    "d_w2 = torch.matmul(torch.transpose(a1, 0, 1), d_b2)",
    'd_l1 = (d_l2 @ demo_params["w2"].T) * a1 * (1 - a1)',
    "d_Y_pred = (Y_pred - y_xor) / (Y_pred * (1.0 - Y_pred) + 1e-7)",
    "b2 = b2 - learning_rate * torch.mean(d_b2, 0)",
    "d_l2 = d_Y_pred * Y_pred * (1 - Y_pred)",
    'lecture = {"w1": d_w1, "b1": d_l1.mean(0), "w2": d_w2, "b2": d_l2.mean(0)}',
]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _giveaways(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        if cells.is_written_answer(cell) or cells.is_code_solution(cell):
            continue   # the student's own cells (blank in the release)
        for pattern, what in GIVEAWAYS.items():
            for m in re.finditer(pattern, cell.source):
                found.append(f"{cells.grade_id(cell)}: {what} ({m.group(0)!r})")
    return found


def test_each_pattern_catches_the_old_form_it_names():
    assert len(OLD_LINES) == len(GIVEAWAYS)
    for (pattern, what), line in zip(GIVEAWAYS.items(), OLD_LINES, strict=True):
        assert re.search(pattern, line), f"{pattern!r} ({what}) misses {line!r}"


def test_release_hands_out_no_backprop_formula(path: Path = RELEASE):
    # (The default argument lets a reviewer run it on another notebook, e.g. the one at HEAD.)
    found = _giveaways(_read(path))
    assert not found, "the release states or computes backprop's formulas:\n" + "\n".join(found)


def test_source_locked_cells_hand_out_no_backprop_formula():
    found = _giveaways(_read(SOURCE))
    assert not found, "\n".join(found)


def _cell(nb, grade_id: str):
    hits = [c for c in nb.cells if cells.grade_id(c) == grade_id]
    assert len(hits) == 1, grade_id
    return hits[0].source


def test_backward_section_sets_up_goal_shapes_and_hints():
    text = _cell(_read(RELEASE), "backward_md")
    for needed in ("**The quantities.**", "**The goal.**", "$(n_{in}, h)$", "$(h, n_{out})$",
                   "<details><summary>Hint 1", "<details><summary>Hint 3", "summed", "mean"):
        assert needed in text, needed
    assert text.count("<details>") == text.count("</details>") >= 3


def test_demo_after_backward_shows_the_mismatch_with_autograd_only():
    demo = _cell(_read(RELEASE), "demo_lecture_gradients")
    assert ".backward()" in demo and '"sum"' in demo and '"mean"' in demo, "autograd of both losses"
    assert "backward(X_xor, y_xor" in demo, "the demo compares the student's backward"


def test_the_lecture_worked_example_is_a_public_check():
    nb = _read(RELEASE)
    test = _cell(nb, "test_sigmoid")
    assert "[[1.0, -1.0], [-2.0, 1.0]]" in test and "0.9820138" in test
    assert "0.98" in _cell(nb, "sigmoid_md") and "0.12" in _cell(nb, "sigmoid_md")
    # The numbers themselves: x W + b = [4, -2] in the notebook's row convention.
    x, W, b = torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, -1.0], [-2.0, 1.0]]), torch.tensor([1.0, 0.0])
    z = x @ W + b
    assert z.tolist() == [[4.0, -2.0]]
    assert torch.allclose(torch.sigmoid(z), torch.tensor([[0.9820138, 0.1192029]]), atol=1e-6)
    assert [round(v, 2) for v in torch.sigmoid(z).flatten().tolist()] == [0.98, 0.12]


def test_the_float32_limits_the_bce_section_quotes_are_true():
    text = _cell(_read(RELEASE), "bce_md")
    assert r"\gtrsim 17" not in text
    for quoted in ("z = 16.6", "6 \\cdot 10^{-8}", "6 \\cdot 10^{-39}", "z = -88$", "-88.7"):
        assert quoted in text, quoted
    for sigmoid in (lambda z: 1.0 / (1.0 + torch.exp(-z)), torch.sigmoid):
        def at(v: float, f=sigmoid) -> float:
            return f(torch.tensor(v, dtype=torch.float32)).item()
        assert at(16.6) < 1.0 and at(16.7) == 1.0          # exactly 1 from about 16.6
        assert math.exp(-16.64) < 6e-8 < 2.0**-23            # half the gap above 1
        assert 5e-39 < at(-88.0) < 7e-39                     # still positive at -88
        assert at(-88.7) > 0.0 and at(-88.75) == 0.0         # exactly 0 near -88.7
        assert math.isfinite(torch.log(torch.tensor(at(-88.0))).item())


def test_the_page_leaves_the_written_answer_to_the_student():
    # The single-layer run ends with every prediction at 0.5, and 0.5 costs ln 2: linking
    # the two is the written answer's third point, so no Markdown cell does it.
    nb = _read(RELEASE)
    for cell in nb.cells:
        if cell.cell_type != "markdown" or cells.is_written_answer(cell):
            continue
        for m in re.finditer(r"0\.5(?![0-9])", cell.source):
            window = cell.source[max(0, m.start() - 150): m.end() + 150]
            assert not re.search(r"ln 2|\\ln 2|0\.693", window), (cells.grade_id(cell), window)
        assert "no single line" not in cell.source, cells.grade_id(cell)


def test_intro_follows_the_shared_conventions():
    nb = _read(RELEASE)
    intro = nb.cells[0].source
    heads = ["**Learning goals.**", "**Tasks.**", "**How this notebook works.**", "**Glossary / 용어.**"]
    positions = [intro.index(h) for h in heads]
    assert positions == sorted(positions)
    assert "| part | what you write | points (hidden tests) | public test | estimated time |" in intro
    assert "| English | 한국어 | meaning |" in intro
    glossary = intro[positions[-1]:].splitlines()
    rows = [ln for ln in glossary if ln.startswith("|") and not ln.startswith("|---")][1:]
    assert 8 <= len(rows) <= 20
    # Why ps3 comes before ps4 (the lecture's order is the other way round).
    assert "before problem set 4" in intro and "loss.backward()" in intro


def test_tasks_table_points_match_the_notebook():
    source = _read(SOURCE)
    points = {cells.grade_id(c): cells.points(c) for c in source.cells
              if cells.is_solution(c) and cells.is_grade(c)}
    public = sum(cells.points(c) for c in source.cells if cells.is_public_test(c))
    intro = _read(RELEASE).cells[0].source
    table = intro[intro.index("**Tasks.**"):intro.index("**How this notebook works.**")]
    listed = {}
    for line in table.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) != 5:
            continue
        name = re.search(r"`(\w+)", cols[1])
        if name and name.group(1) in points:
            listed[name.group(1)] = float(cols[2].split()[0])
    assert listed == points
    total = next(ln for ln in table.splitlines() if "**total**" in ln)
    assert f"**{sum(points.values()):g}**" in total and f"**{public:g}**" in total
    assert f"({sum(points.values()) + public:g} points)" in total


def test_the_intro_states_the_grader_limits():
    # Every profile (a loop, not parametrize: a test id containing "gpu" is skipped on CPUs).
    intro = _read(RELEASE).cells[0].source
    for profile in config.PROFILES.values():
        limits = profile.limits
        assert f"within {limits.call_timeout_s:g} seconds" in intro, profile.name
        assert f"`train_xor` within {limits.training_call_timeout_s:g} seconds" in intro, profile.name
    assert "below 0.05" in intro


def test_public_tests_name_their_upstream_causes():
    nb = _read(RELEASE)
    backward = _cell(nb, "test_backward")
    assert "forward's cache" in backward and "fix it first" in backward
    train = _cell(nb, "test_train_xor")
    assert "backward" in train and "bce_loss" in train and "fix that first" in train
    for gid in ("test_sigmoid_prime", "test_forward"):
        assert "if sigmoid fails its own test above, fix it first" in _cell(nb, gid), gid
