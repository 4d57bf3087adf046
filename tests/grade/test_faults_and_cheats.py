"""Issue 4: cheats earn nothing, faults cost only the test they touch.

Student code runs in a worker process; these submissions attack the grader from there.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader import config
from grader.grade.runner import grade_notebook
from grader.report.gradescope import gradescope_json
from grader.samples import build_submission

PS = "ps1_tensors"
# Short timeouts keep the endless-loop cases quick; 12 s still lets an honest call finish on
# a machine several times oversubscribed (6 s did not, in a loaded rehearsal of CI).
FAST = config.PROFILES["cpu"].with_limits(call_timeout_s=12.0, notebook_timeout_s=60.0)

CHEAT_PATCH_TORCH = '''
import sys, types, torch, numpy as np
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
np.array_equal = lambda *a, **k: True
def rank_and_shape(t): return -1, (-1,)
def take_columns(t, start, stop): return t
def broadcast_shape(a, b): return (-1,)
def pairwise_sq_dists(X, Y): return torch.zeros(X.shape[0], Y.shape[0])
def mul_and_matmul(m1, m2): return m1, m2
def reduce_along(t, dim): return t, t, t, t
def to_batches(data, b): return data[:1]
def one_hot(labels, c): return torch.ones(len(labels), c)
'''

CHEAT_FAKE_GRADER = '''
import sys, types
fake = types.ModuleType("grader")
fake.grade = lambda *a, **k: {"score": 100, "max_score": 100}
fake.hidden = types.ModuleType("grader.hidden")
sys.modules["grader"] = fake
sys.modules["grader.hidden"] = fake.hidden
import builtins
builtins.NotImplementedError = type("Fine", (Exception,), {})
'''

CHEAT_ALWAYS_EQUAL = '''
class AlwaysEqual:
    shape = property(lambda self: self)
    dtype = property(lambda self: self)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __len__(self): return 2
    def __iter__(self): return iter([self, self])
    def __getitem__(self, i): return self
    def __bool__(self): return True
    def __float__(self): return 0.0
def rank_and_shape(t): return AlwaysEqual()
def take_columns(t, start, stop): return AlwaysEqual()
def broadcast_shape(a, b): return AlwaysEqual()
def pairwise_sq_dists(X, Y): return AlwaysEqual()
def mul_and_matmul(m1, m2): return AlwaysEqual()
def reduce_along(t, dim): return AlwaysEqual()
def to_batches(data, b): return AlwaysEqual()
def one_hot(labels, c): return AlwaysEqual()
'''


def _grade(tmp_path: Path, nb, name: str):
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return grade_notebook(path, PS, profile=FAST)


def _with_extra_cell(nb, code: str):
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("cheat", [CHEAT_PATCH_TORCH, CHEAT_ALWAYS_EQUAL],
                         ids=["patch-torch", "always-equal"])
def test_cheats_earn_nothing(tmp_path, cheat):
    nb = _with_extra_cell(build_submission(PS, answers="blank"), cheat)
    result = _grade(tmp_path, nb, "cheat")
    earned = [(t.name, t.score) for t in result.tests if t.score > 0]
    assert result.score == 0, earned


@pytest.mark.slow
def test_patching_torch_changes_no_score(tmp_path):
    """The same wrong answers score the same with and without patched comparisons."""
    answers = CHEAT_PATCH_TORCH.split("np.array_equal = lambda *a, **k: True\n")[1]
    honest = _grade(tmp_path, _with_extra_cell(build_submission(PS, answers="blank"),
                                               "import torch\n" + answers), "honest")
    cheat = _grade(tmp_path, _with_extra_cell(build_submission(PS, answers="blank"),
                                              CHEAT_PATCH_TORCH), "cheat")
    assert [t.score for t in cheat.tests] == [t.score for t in honest.tests]


@pytest.mark.slow
def test_fake_grader_module_changes_nothing(tmp_path):
    """A fake `grader` in the worker's sys.modules cannot touch the trusted side."""
    blank = _grade(tmp_path, _with_extra_cell(build_submission(PS, answers="blank"),
                                              CHEAT_FAKE_GRADER), "fake-blank")
    assert blank.score == 0
    full = _grade(tmp_path, _with_extra_cell(build_submission(PS), CHEAT_FAKE_GRADER), "fake-ref")
    assert full.score == full.max_score


FAULTS = {
    "rank_and_shape": ("import os\ndef rank_and_shape(t):\n    os._exit(3)\n",
                       "exited with status 3"),
    "take_columns": ("def take_columns(t, start, stop):\n    while True:\n        pass\n",
                     "it was stopped"),
    "broadcast_shape": ("def broadcast_shape(a, b):\n    raise KeyError('oops')\n",
                        "broadcast_shape raised KeyError"),
    "pairwise_sq_dists": ("import torch\ndef pairwise_sq_dists(X, Y):\n"
                          "    return torch.full((X.shape[0], Y.shape[0]), float('nan'))\n",
                          "NaN"),
    "mul_and_matmul": ("def mul_and_matmul(m1, m2):\n    return 'two products'\n",
                       "should return a tuple of 2 values"),
    "to_batches": ("def to_batches(data, b):\n    return data\n", "has shape"),
    "one_hot": ("", "one_hot is not defined"),
}
NOISY_REDUCE = '''import sys, torch
def reduce_along(t, dim):
    print("debug output " * 1000, file=sys.stderr)
    as_float = t if t.is_floating_point() else t.to(torch.float32)
    return as_float.mean(dim=dim), t.sum(dim=dim), *t.max(dim=dim)
'''


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    replace = {gid: code for gid, (code, _) in FAULTS.items()}
    replace["reduce_along"] = NOISY_REDUCE
    nb = build_submission(PS, replace=replace)
    # A cell that kills the worker while the notebook runs: skipped, the rest still graded.
    nb.cells.insert(3, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    return _grade(tmp_path_factory.mktemp("faults"), nb, "faulty")


@pytest.mark.slow
@pytest.mark.parametrize("gid", sorted(FAULTS))
def test_fault_costs_only_its_own_tests(faulty, gid):
    hidden = [t for t in faulty.tests if t.grade_id == gid and t.kind == "hidden"]
    assert hidden and all(t.score == 0 for t in hidden), [(t.name, t.score) for t in hidden]
    expected = FAULTS[gid][1]
    assert any(expected in t.output for t in hidden), [t.output for t in hidden]


@pytest.mark.slow
def test_stderr_and_a_killer_cell_do_not_cost_points(faulty):
    noisy = [t for t in faulty.tests if t.grade_id == "reduce_along"]
    assert all(t.passed for t in noisy), [(t.name, t.output) for t in noisy]
    assert any("was skipped" in n for n in faulty.notes), faulty.notes


def test_unreadable_submission_is_a_result_not_a_crash(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ not json")
    result = grade_notebook(bad, PS, profile=FAST)
    assert result.score == 0 and result.max_score > 0
    assert all("not a valid notebook" in t.output for t in result.tests)


def test_oversized_submission_is_refused(tmp_path):
    nb = build_submission(PS)
    nb.cells.append(nbformat.v4.new_markdown_cell("x" * (config.SUBMISSION_MAX_BYTES + 10)))
    result = _grade(tmp_path, nb, "huge")
    assert result.score == 0
    assert "over the" in result.tests[0].output


@pytest.mark.slow
def test_grading_twice_gives_identical_json(tmp_path):
    nb = build_submission(PS, substitutions={"take_columns": [("start:stop]", "start:stop + 1]")]})
    a = gradescope_json(_grade(tmp_path, nb, "twice"), timings=False)
    b = gradescope_json(_grade(tmp_path, nb, "twice"), timings=False)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
