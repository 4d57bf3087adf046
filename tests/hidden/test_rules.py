"""Issue 10: rules on *how* are checked on what the code calls and enforced where it runs.

Attacks that earned points before (a banned call in a helper or another cell, a name
built at run time, autograd switched back on) now earn none, and correct code written the
ways a student legitimately might (helpers, local names, self-checks) keeps full marks.
"""

from __future__ import annotations

import doctest

import nbformat
import pytest
import torch

from grader.grade.runner import grade_notebook
from grader.hidden import facts, program, static
from grader.samples import build_submission, reference_answers
from grader.sandbox import isolation
from grader.sandbox.client import RuleBroken, Worker
from grader.sandbox.limits import Limits

SANDBOX = isolation.available()


def test_the_static_helpers_examples_hold():
    for module in (static, program, facts):
        assert doctest.testmod(module).failed == 0


# ---------------------------------------------------------------- static: what is called

CONV_HELPER_ELSEWHERE = [
    "import torch\nimport torch.nn.functional as F\n\ndef _slide(x, k):\n"
    "    return F.conv2d(x[None, None], k[None, None])[0, 0]\n",
    "def conv2d_single(image, kernel, stride=1, padding=0):\n    return _slide(image, kernel)\n",
]


@pytest.mark.parametrize("cells, found", [
    (CONV_HELPER_ELSEWHERE, "conv2d"),                                       # helper, other cell
    (["import torch.nn.functional as F\nmy = F.conv2d\n",
      "def conv2d_single(image, kernel, stride=1, padding=0):\n    return my(image, kernel)\n"],
     "conv2d"),                                                              # alias, other cell
    (["import torch.nn.functional as F\ndef conv2d_single(image, kernel, stride=1, padding=0):\n"
      "    return getattr(F, 'conv2d')(image, kernel)\n"], "conv2d"),         # constant getattr
    (["from torch.nn.functional import unfold as u\ndef conv2d_single(image, kernel, stride=1, "
      "padding=0):\n    return u(image, kernel.shape)\n"], "unfold"),
])
def test_a_banned_call_is_found_wherever_the_function_reaches_it(cells, found):
    findings = static.forbidden(cells, static.LIBRARY_CONVOLUTION, "conv2d_single")
    assert findings and any(found in f.what or found in str(f) for f in findings), findings


@pytest.mark.parametrize("cells", [
    ["import torch\ndef conv2d_single(image, kernel, stride=1, padding=0):\n"
     "    convolution = torch.zeros(3, 3)\n    unfold = 2\n    jacobian = convolution * unfold\n"
     "    return jacobian\n"],                                               # local names
    ["import torch.nn.functional as F\ndef conv2d_single(image, kernel, stride=1, padding=0):\n"
     "    return image[:1, :1] * kernel.sum()\n\n"
     "# self-check against the library, outside the function\n"
     "x, k = torch.rand(5, 5), torch.rand(3, 3)\n"
     "assert conv2d_single(x, k).shape == F.conv2d(x[None, None], k[None, None])[0, 0].shape[:0] + (1, 1)\n"],
    ["def _window_sum(x, k):\n    return (x * k).sum()\n",
     "def conv2d_single(image, kernel, stride=1, padding=0):\n    return _window_sum(image, kernel)\n"],
    ["def conv2d_single(image, kernel, stride=1, padding=0):\n"
     '    """Not F.conv2d, not unfold: slides the kernel itself."""\n    return image\n'],
    ["import torch\nnet = torch.nn.Linear(2, 2)\nnet.eval()\nnet.compile\n"
     "def conv2d_single(image, kernel, stride=1, padding=0):\n    return image\n"],
    ["import sys, builtins\nclass Box:\n    def __repr__(self):\n"
     "        return self.__class__.__name__\n"
     "def conv2d_single(image, kernel, stride=1, padding=0):\n"
     "    print(sys.modules['torch'].__name__, builtins.len(image))\n    return image\n"],
])
def test_correct_code_written_freely_is_not_flagged(cells):
    assert static.forbidden(cells, static.LIBRARY_CONVOLUTION, "conv2d_single") == []
    assert static.dynamic(cells) == []


def test_a_self_check_with_backward_beside_the_function_is_not_autograd_in_it():
    cell = ("import torch\ndef mse_gradients(X, y, W, b):\n    r = X @ W + b - y\n"
            "    return 2 * X.T @ r / len(X), 2 * r.sum(0) / len(X)\n\n"
            "W = torch.zeros(2, 1, requires_grad=True)\n"
            "((torch.ones(3, 2) @ W) ** 2).mean().backward()\n")
    assert static.forbidden([cell], static.AUTOGRAD, "mse_gradients") == []
    assert static.forbidden([cell], static.AUTOGRAD)  # the cell as a whole does use autograd


@pytest.mark.parametrize("code, what", [
    ("exec('import torch')", "exec"), ("f = eval('len')", "eval"),
    ("c = compile('1', 'x', 'eval')", "compile"), ("m = __import__('torch')", "__import__"),
    ("import importlib\nm = importlib.import_module('torch')", "importlib"),
    ("import torch\nname = 'con' + 'v2d'\nf = getattr(torch, name)", "computed"),
    ("import torch\nf = torch.__dict__['conv2d']", "__dict__"),
    ("import torch\nf = vars(torch)['conv2d']", "vars"),
    ("import torch\nx = torch._C._nn", "_C"),
    ("import builtins\nbuiltins.exec('x = 1')", "exec"),
    ("from torch.overrides import TorchFunctionMode", "TorchFunctionMode"),
    ("import functools, torch\nf = functools.reduce(getattr, ['nn', 'functional'], torch)",
     "getattr passed as a value"),
])
def test_code_built_at_run_time_is_refused(code, what):
    found = static.dynamic(["def f(x):\n    return x\n", code])
    assert found and any(what in str(f) for f in found), found


# ---------------------------------------------------------------- at run time, in the worker

RUNTIME = """
import torch, torch.nn.functional as F, numpy as np
_name = 'con' + 'v3d'
_hidden = getattr(F, _name)
def conv_hidden(x, k):
    return _hidden(x[None, None, None], k[None, None, None])[0, 0, 0]
def conv_1d(x, k):
    return F.conv1d(x[None, :1], k[None, :1])
def conv_honest(x, k):
    kh, kw = k.shape
    out = x.new_zeros(x.shape[0] - kh + 1, x.shape[1] - kw + 1)
    for u in range(kh):
        for v in range(kw):
            out += k[u, v] * x[u:u + out.shape[0], v:v + out.shape[1]]
    return out
def pool_3d(x, k):
    return F.max_pool3d(x[None, None], (1, k, k))[0, 0]
def pool_honest(x, k):
    h, w = x.shape[0] // k, x.shape[1] // k
    return x[:h * k, :w * k].reshape(h, k, w, k).amax(dim=(1, 3))
def grad_on(x):
    with torch.enable_grad():
        w = torch.ones(x.shape, requires_grad=True)
        (w * x).sum().backward()
    return w.grad
def grad_swallowed(x):
    try:
        return grad_on(x)
    except Exception:
        return x * 0 + 1
def grad_honest(x):
    return torch.ones_like(x)
def dists(X, Y):
    return torch.cdist(X, Y) ** 2
def shape_np(a, b):
    return tuple(np.broadcast_shapes(a, b))
"""


@pytest.fixture(scope="module")
def worker():
    with Worker(Limits(call_timeout_s=30, sandbox=SANDBOX)) as w:
        assert w.exec_cells([RUNTIME])[0]["ok"]
        yield w


@pytest.mark.parametrize("name, rules, args", [
    ("conv_hidden", ("convolution",), (torch.rand(6, 6), torch.rand(3, 3))),
    ("conv_1d", ("convolution",), (torch.rand(6, 6), torch.rand(3, 3))),
    ("pool_3d", ("pooling",), (torch.rand(6, 6), 2)),
    ("grad_on", ("autograd",), (torch.rand(3),)),
    ("grad_swallowed", ("autograd",), (torch.rand(3),)),
    ("dists", ("cdist",), (torch.rand(3, 2), torch.rand(4, 2))),
    ("shape_np", ("broadcast",), ((2, 1), (1, 3))),
])
def test_a_forbidden_operator_breaks_the_rule_however_it_was_reached(worker, name, rules, args):
    with pytest.raises(RuleBroken):
        worker.call({"name": name}, args, rules=rules)
    worker.call({"name": name}, args)   # the same call without the rule is fine


@pytest.mark.parametrize("name, rules, args", [
    ("conv_honest", ("convolution",), (torch.rand(6, 6), torch.rand(3, 3))),
    ("pool_honest", ("pooling",), (torch.rand(6, 6), 2)),
    ("grad_honest", ("autograd",), (torch.rand(3),)),
])
def test_hand_written_code_runs_under_its_rule(worker, name, rules, args):
    assert isinstance(worker.call({"name": name}, args, rules=rules), torch.Tensor)


def test_the_traps_are_gone_after_the_call(worker):
    with pytest.raises(RuleBroken):
        worker.call({"name": "shape_np"}, ((2, 1), (1, 3)), rules=("broadcast",))
    assert worker.call({"name": "shape_np"}, ((2, 1), (1, 3))) == (2, 3)


# ---------------------------------------------------------------- graded end to end


def _grade(tmp_path, ps, replace, only):
    path = tmp_path / f"{ps}.ipynb"
    nbformat.write(build_submission(ps, replace=replace), path)
    return grade_notebook(path, ps, device="cpu", only=only, sandbox=SANDBOX)


def _scores(result, grade_id):
    return [(t.name, t.score, t.max_score, t.output) for t in result.tests if t.grade_id == grade_id
            and t.kind != "public"]


@pytest.mark.slow
def test_ps5_a_convolution_hidden_from_the_text_earns_nothing_for_the_rule(tmp_path):
    hidden = ("import torch.nn.functional as F\n"
              "_op = vars(F)['con' + 'v2d']\n\n"
              "def conv2d_single(image, kernel, stride=1, padding=0):\n"
              "    x, k = torch.as_tensor(image).double(), torch.as_tensor(kernel).double()\n"
              "    out = _op(x[None, None], k[None, None], stride=stride, padding=padding)[0, 0]\n"
              "    return out.to(image.dtype) if image.is_floating_point() else out.float()\n")
    result = _grade(tmp_path, "ps5_mnist_cnn", {"conv2d_single": hidden}, {"conv2d_single"})
    scores = _scores(result, "conv2d_single")
    rule = next(t for t in result.tests if t.name == "conv2d_single: computed by hand, no library convolution")
    assert rule.score == 0 and "while it ran it used a library convolution" in rule.output, scores
    # The values are right (the library computed them): those tests keep their points.
    assert sum(s for _, s, _, _ in scores) > 0


@pytest.mark.slow
def test_ps2_autograd_in_a_helper_in_another_cell_loses_the_rule_and_honest_helpers_do_not(tmp_path):
    ps = "ps2_gradients"
    ref = reference_answers(nbformat.read(f"source/{ps}/{ps}.ipynb", as_version=4))
    helper = ("def _grads(X, y, W, b):\n"
              "    with torch.enable_grad():\n"
              "        W, b = W.clone().requires_grad_(), b.clone().requires_grad_()\n"
              "        ((X @ W + b - y) ** 2).mean().backward()\n"
              "    return W.grad, b.grad\n\n")
    cheat = {"hypothesis": ref["hypothesis"] + "\n\n" + helper,
             "mse_gradients": "def mse_gradients(X, y, W, b):\n    return _grads(X, y, W, b)\n"}
    result = _grade(tmp_path, ps, cheat, {"mse_gradients"})
    scores = _scores(result, "mse_gradients")
    rule = next(t for t in result.tests if t.grade_id == "mse_gradients" and t.kind == "static")
    assert rule.score == 0 and "while it ran it used autograd" in rule.output, scores
    switched_off = [t for t in result.tests if "switched off" in t.name]
    assert switched_off and all(t.score == 0 for t in switched_off), scores
    honest_helper = ("def _residual(X, y, W, b):\n    return hypothesis(X, W, b) - y\n\n")
    honest = {"hypothesis": ref["hypothesis"] + "\n\n" + honest_helper,
              "mse_gradients": ("def mse_gradients(X, y, W, b):\n"
                                "    gradient = _residual(X, y, W, b)  # a local name, no autograd\n"
                                "    m = X.shape[0]\n"
                                "    return ((2.0 / m) * (X.T @ gradient)).reshape(W.shape), "
                                "((2.0 / m) * gradient.sum(dim=0)).reshape(b.shape)\n\n"
                                "# a self-check with autograd, outside the function\n"
                                "_W = torch.zeros(2, 1, requires_grad=True)\n"
                                "((torch.ones(3, 2) @ _W) ** 2).mean().backward()\n")}
    result = _grade(tmp_path, ps, honest, {"mse_gradients"})
    scores = _scores(result, "mse_gradients")
    assert scores and all(s == m for _, s, m, _ in scores), scores


def test_a_rule_checked_call_does_not_import_torch_dynamo():
    """Issue 13: torch wraps a dispatch mode's ``__torch_dispatch__`` in a guard whose first
    call imports ``torch._dynamo`` (1.5-2 s of every submission); the traps opt out."""
    probe = ("import sys, torch\n"
             "def dists(X, Y):\n"
             "    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)\n"
             "def dynamo_loaded():\n"
             "    return 'torch._dynamo' in sys.modules\n")
    # From scratch: a forked worker has torch._dynamo already (its parent imported it once).
    with Worker(Limits(call_timeout_s=30, sandbox=SANDBOX, prefork=False)) as w:
        assert w.exec_cells([probe])[0]["ok"]
        w.call({"name": "dists"}, (torch.rand(3, 2), torch.rand(4, 2)), rules=("cdist", "autograd"))
        assert w.call({"name": "dynamo_loaded"}) is False
