"""Issue 10: facts a hidden test relies on are computed on the trusted side, from data.

The attacks below rewrite the worker's own helpers from a notebook cell (found through
``gc``, as a student with the grader's source in hand would) so that the worker describes
a model or a tensor falsely. Before, those answers were believed; now they earn nothing.
"""

from __future__ import annotations

import nbformat
import pytest
import torch

from grader.grade.runner import grade_notebook
from grader.hidden.facts import ModelFacts
from grader.samples import build_submission
from grader.sandbox import isolation

SANDBOX = isolation.available()

# Finds the worker's module globals and makes describe() and same_storage() lie.
FORGE = '''
import gc as _gc
_worker = next(o for o in _gc.get_objects()
               if isinstance(o, dict) and "BUILTINS" in o and "describe" in o)
_real_describe = _worker["describe"]
def _lying_describe(obj):
    info = _real_describe(obj)
    info["mro"] = info["mro"] + ["__main__.CNN", "torch.nn.modules.module.Module"]
    info["modules"] = [["conv", "torch.nn.modules.conv.Conv2d"]]
    info["n_parameters"] = 1000
    return info
_worker["describe"] = _lying_describe
_worker["BUILTINS"]["same_storage"] = lambda a, b: True
'''


def _grade(tmp_path, ps, replace, only):
    path = tmp_path / f"{ps}.ipynb"
    nbformat.write(build_submission(ps, replace=replace), path)
    return grade_notebook(path, ps, device="cpu", only=only, sandbox=SANDBOX)


def _hidden(result, grade_id):
    return {t.name: (t.score, t.output) for t in result.tests
            if t.grade_id == grade_id and t.kind == "hidden"}


@pytest.mark.slow
def test_ps5_a_forged_description_does_not_pass_the_structure_or_the_cap(tmp_path):
    big = FORGE + '''

class CNN(nn.Module):
    """Three million weights in one linear layer, no convolution at all."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 4000)
        self.out = nn.Linear(4000, 10)

    def forward(self, x):
        return self.out(torch.relu(self.fc(x.flatten(1))))
'''
    result = _grade(tmp_path, "ps5_mnist_cnn", {"CNN": big}, {"CNN", "build_model"})
    cnn, build = _hidden(result, "CNN"), _hidden(result, "build_model")
    structure = cnn["CNN: an nn.Module with convolutions and at most 2M parameters"]
    cap = build["build_model: within the parameter cap"]
    assert structure[0] == 0 and "3,1" in structure[1], structure   # 3,180,010 counted here
    assert cap[0] == 0 and "cap" in cap[1], cap


@pytest.mark.slow
def test_ps5_a_convolution_that_does_not_compute_anything_is_not_a_convolution(tmp_path):
    decoy = '''
class CNN(nn.Module):
    """Holds a conv kernel it never uses."""

    def __init__(self):
        super().__init__()
        self.decoy = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))
'''
    result = _grade(tmp_path, "ps5_mnist_cnn", {"CNN": decoy}, {"CNN"})
    score, output = _hidden(result, "CNN")["CNN: an nn.Module with convolutions and at most 2M parameters"]
    assert score == 0 and "kernels are zeroed" in output


@pytest.mark.slow
def test_ps1_a_copy_is_not_a_view_whatever_the_worker_says(tmp_path):
    copy = FORGE + '''

def to_batches(data, batch_size):
    n = data.shape[0]
    if batch_size <= 0 or n % batch_size:
        raise ValueError("not divisible")
    return data.reshape(n // batch_size, batch_size, *data.shape[1:]).clone()
'''
    result = _grade(tmp_path, "ps1_tensors", {"to_batches": copy}, {"to_batches"})
    tests = _hidden(result, "to_batches")
    view = tests["to_batches: the result is a view sharing storage with the input"]
    assert view[0] == 0 and "copy" in view[1], view
    assert tests["to_batches: shapes and values"][0] > 0   # the values themselves are right


def test_model_facts_come_from_the_tensors():
    state = {"c.weight": torch.zeros(8, 1, 3, 3), "bn.running_mean": torch.zeros(8),
             "bn.num_batches_tracked": torch.tensor(3), "fc.weight": torch.zeros(10, 72)}
    f = ModelFacts.of(state)
    assert f.n_parameters == 72 + 8 + 720 and f.kernels == ("c.weight",)
    assert f.shapes["bn.num_batches_tracked"] == ()
