"""Issue 12, ps4_modules: softmax and cross-entropy by hand (the ``softmax`` rule), and the
overfitting demo.

The rule is enforced in the worker where every route to the library's operators meets (the
aten operator), so a library softmax, log-softmax, log-sum-exp, NLL or cross-entropy breaks
it however it was reached: a function, a method, a module, an alias built at run time, a
distribution that computes it inside. The demo must really show overfitting with the
reference solutions: the validation loss falls, bottoms out well before the end, and rises.
"""

from __future__ import annotations

import nbformat
import pytest
import torch
from conftest import ROOT

from grader.grade.runner import grade_notebook
from grader.hidden import hidden_rules_for
from grader.notebooks import cells
from grader.notebooks.solutions import execute_reference
from grader.samples import build_submission
from grader.sandbox import isolation
from grader.sandbox.client import RuleBroken, Worker
from grader.sandbox.limits import Limits

PS = "ps4_modules"
SANDBOX = isolation.available()

# ---------------------------------------------------------------- the softmax rule, in the worker

ROUTES = """
import torch, torch.nn as nn, torch.nn.functional as F
_hidden = getattr(F, 'soft' + 'max')
def f_softmax(z, y):
    return F.softmax(z, dim=-1)
def method_softmax(z, y):
    return z.softmax(-1)
def special_softmax(z, y):
    return torch.special.softmax(z, -1)
def module_softmax(z, y):
    return nn.Softmax(dim=1)(z)
def softmin(z, y):
    return F.softmin(-z, dim=1)
def hidden_alias(z, y):
    return _hidden(z, dim=1)
def log_softmax_exp(z, y):
    return torch.exp(z.log_softmax(dim=1))
def logsumexp(z, y):
    return z[torch.arange(len(y)), y].neg().add(torch.logsumexp(z, dim=1)).mean()
def logcumsumexp(z, y):
    return (torch.logcumsumexp(z, dim=1)[:, -1] - z[torch.arange(len(y)), y]).mean()
def distribution(z, y):
    return -torch.distributions.Categorical(logits=z).log_prob(y).mean()
def f_cross_entropy(z, y):
    return F.cross_entropy(z, y)
def module_cross_entropy(z, y):
    return nn.CrossEntropyLoss()(z, y)
def nll(z, y):
    return F.nll_loss(torch.log(z.exp() / z.exp().sum(1, keepdim=True)), y)
def attention(z, y):
    eye = torch.eye(z.shape[1])[None]
    return F.scaled_dot_product_attention(z[None], eye, eye)[0]
def swallowed(z, y):
    try:
        return F.softmax(z, dim=1)
    except Exception:
        e = torch.exp(z - z.max(dim=1, keepdim=True).values)
        return e / e.sum(dim=1, keepdim=True)
def by_hand_softmax(z, y):
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)
def by_hand_cross_entropy(z, y):
    top = z.max(dim=1, keepdim=True).values
    lse = top.squeeze(1) + torch.log(torch.exp(z - top).sum(dim=1))
    return (lse - z[torch.arange(len(y)), y]).mean()
"""

LIBRARY_ROUTES = ["f_softmax", "method_softmax", "special_softmax", "module_softmax", "softmin",
                  "hidden_alias", "log_softmax_exp", "logsumexp", "logcumsumexp", "distribution",
                  "f_cross_entropy", "module_cross_entropy", "nll", "attention", "swallowed"]


def _args():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 5, generator=g), torch.tensor([0, 3, 1, 4])


@pytest.fixture(scope="module")
def worker():
    with Worker(Limits(call_timeout_s=30, sandbox=SANDBOX)) as w:
        assert w.exec_cells([ROUTES])[0]["ok"]
        yield w


def test_ps4_uses_the_softmax_rule_for_both_functions():
    assert hidden_rules_for(PS)["softmax"] == ("softmax",)
    assert hidden_rules_for(PS)["cross_entropy"] == ("softmax",)


@pytest.mark.parametrize("name", LIBRARY_ROUTES)
def test_a_library_softmax_breaks_the_rule_however_it_is_reached(worker, name):
    with pytest.raises(RuleBroken):
        worker.call({"name": name}, _args(), rules=("softmax",))
    assert isinstance(worker.call({"name": name}, _args()), torch.Tensor)   # fine without it


@pytest.mark.parametrize("name", ["by_hand_softmax", "by_hand_cross_entropy"])
def test_softmax_and_cross_entropy_by_hand_run_under_the_rule(worker, name):
    z, y = _args()
    got = worker.call({"name": name}, (z, y), rules=("softmax",))
    want = (torch.softmax(z, dim=-1) if name == "by_hand_softmax"
            else torch.nn.functional.cross_entropy(z, y))
    assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.slow
def test_a_cross_entropy_hidden_from_the_text_earns_nothing_for_the_rule(tmp_path):
    hidden = ("import torch\nimport torch.nn.functional as F\n_loss = vars(F)['cross_' + 'entropy']\n\n\n"
              "def cross_entropy(logits, labels):\n    return _loss(logits, labels)\n")
    path = tmp_path / f"{PS}.ipynb"
    nbformat.write(build_submission(PS, replace={"cross_entropy": hidden}), path)
    result = grade_notebook(path, PS, device="cpu", only={"cross_entropy"}, sandbox=SANDBOX)
    hidden_tests = [t for t in result.tests if t.grade_id == "cross_entropy" and t.kind != "public"]
    rule = next(t for t in hidden_tests if t.kind == "static")
    assert rule.score == 0 and "while it ran it used a library softmax, log-softmax" \
        in rule.output, rule.output
    # The values are right (the library computed them): those tests keep their points.
    values = [t for t in hidden_tests if t.kind != "static"]
    assert values and all(t.score == t.max_score for t in values), \
        [(t.name, t.score, t.output) for t in values]


# ---------------------------------------------------------------- the overfitting demo


def test_the_overfitting_demo_shows_overfitting_with_the_reference():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = nbformat.read(ROOT / "source" / PS / f"{PS}.ipynb", as_version=4)
    demo = next(c.source for c in nb.cells if cells.grade_id(c) == "demo_overfitting")
    assert "plt.show()" in demo
    namespace = vars(execute_reference(PS))
    threads = torch.get_num_threads()
    try:
        exec(compile(demo.replace("plt.show()", "plt.close('all')"), "demo_overfitting", "exec"),
             namespace)
    finally:
        torch.set_num_threads(threads)
        plt.close("all")
    train, val, best = namespace["train_curve"], namespace["val_curve"], namespace["best"]
    epochs = len(val)
    assert len(train) == epochs == namespace["n_epochs"]
    assert val[best] == min(val)
    # The validation loss falls first, bottoms out well before the end, then clearly rises ...
    assert 10 <= best <= epochs // 2, best
    assert val[0] > 2 * val[best], (val[0], val[best])
    assert val[-1] > 2 * val[best], (val[best], val[-1])
    # ... while the training loss keeps falling, far below the noise level (0.3 ** 2).
    assert train[-1] < train[best] / 20 and train[-1] < 0.09 / 20, (train[best], train[-1])
