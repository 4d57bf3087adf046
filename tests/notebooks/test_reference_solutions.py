"""The reference solutions themselves: the lecture's numbers and autograd agreement."""

from __future__ import annotations

import sys

import pytest
import torch
from conftest import ROOT

from grader.notebooks.solutions import execute_reference, load_reference_module


def ref(ps: str):
    return load_reference_module(str(ROOT / "source" / ps / f"{ps}.ipynb"))


def test_gradient_descent_reproduces_the_lecture_one_feature():
    m = ref("ps2_gradients")
    x = torch.tensor([[1.0], [2.0], [3.0]])
    W, b, costs = m.gradient_descent(x, x.clone(), lr=0.01, steps=1)
    assert costs[0] == pytest.approx(4.666667, abs=1e-6)
    assert W.item() == pytest.approx(0.093, abs=5e-4)
    assert b.item() == pytest.approx(0.040, abs=5e-4)
    W, b, costs = m.gradient_descent(x, x.clone(), lr=0.01, steps=1000)
    assert W.item() == pytest.approx(0.985, abs=1e-3)
    assert b.item() == pytest.approx(0.033, abs=1e-3)


def test_gradient_descent_reproduces_the_lecture_exam_scores():
    m = ref("ps2_gradients")
    X = torch.tensor([[73.0, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]])
    y = torch.tensor([[152.0], [185], [180], [196], [142]])
    _, _, costs = m.gradient_descent(X, y, lr=1e-5, steps=21)
    assert float(costs[0]) == pytest.approx(29661.8, abs=0.05)
    assert float(costs[1]) == pytest.approx(9298.5, abs=0.05)
    assert float(costs[20]) == pytest.approx(1.619, abs=2e-3)
    _, _, auto = m.fit_with_autograd(X, y, lr=1e-5, steps=21)
    assert torch.allclose(torch.as_tensor(auto).double(), torch.as_tensor(costs).double(), rtol=1e-3)


@pytest.mark.parametrize("seed", range(6))
def test_backward_matches_autograd_for_random_sizes(seed):
    m = ref("ps3_backprop")
    g = torch.Generator().manual_seed(seed)
    n, n_in, h, n_out = (int(v) for v in torch.randint(1, 9, (4,), generator=g))
    X = torch.randn(n, n_in, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (n, n_out), generator=g).double()
    params = {k: v.double() for k, v in m.init_params(n_in, h, n_out, seed).items()}
    _, cache = m.forward(X, params)
    grads = m.backward(X, y, params, cache)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    hidden = torch.sigmoid(X @ leaves["w1"] + leaves["b1"])
    out = torch.sigmoid(hidden @ leaves["w2"] + leaves["b2"])
    loss = torch.nn.functional.binary_cross_entropy(out, y)
    auto = torch.autograd.grad(loss, [leaves[k] for k in ("w1", "b1", "w2", "b2")])
    for key, want in zip(("w1", "b1", "w2", "b2"), auto, strict=True):
        assert grads[key].shape == want.shape
        assert torch.allclose(grads[key].double(), want, atol=1e-6), key


def test_train_xor_solves_xor():
    m = ref("ps3_backprop")
    params = m.train_xor()
    X = torch.tensor([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    y = torch.tensor([[0.0], [1], [1], [0]])
    y_pred, _ = m.forward(X, params)
    assert torch.equal((y_pred > 0.5).float(), y)
    assert float(m.bce_loss(y_pred, y)) < 0.05


@pytest.mark.parametrize("seed", range(8))
def test_conv2d_single_matches_f_conv2d(seed):
    m = ref("ps5_mnist_cnn")
    g = torch.Generator().manual_seed(seed)
    h, w = (int(v) for v in torch.randint(4, 14, (2,), generator=g))
    kh, kw = (int(v) for v in torch.randint(1, 5, (2,), generator=g))
    stride, padding = int(torch.randint(1, 4, (1,), generator=g)), int(torch.randint(0, 3, (1,), generator=g))
    image, kernel = torch.randn(h, w, generator=g), torch.randn(kh, kw, generator=g)
    want = torch.nn.functional.conv2d(image[None, None], kernel[None, None], stride=stride,
                                      padding=padding)[0, 0]
    got = m.conv2d_single(image, kernel, stride, padding)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-5)
    assert m.conv_output_size(h, kh, stride, padding) == want.shape[0]


def test_loading_the_references_prints_nothing_and_leaves_sys_stdout_alone(capsys):
    stdout = sys.stdout
    execute_reference("ps1_tensors", quiet=False)
    assert "torch" in capsys.readouterr().out  # the setup cell does print for students
    execute_reference("ps1_tensors")
    assert capsys.readouterr().out == "" and sys.stdout is stdout
