"""MultivariateLinearRegressionModel: structure, forward with known weights, output shape."""

from __future__ import annotations

import torch

from ..api import randint
from ..framework import Fail, Registry, describe_value, score_fraction
from ._common import X_EXAM, _check_module, _construct, _load_weights

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- MultivariateLinearRegressionModel


@test("MultivariateLinearRegressionModel", 1,
      "MultivariateLinearRegressionModel: an nn.Module with one nn.Linear(in_features, 1)")
def regression_model_structure(ctx) -> None:
    g = ctx.generator()
    model = _construct(ctx, "MultivariateLinearRegressionModel")
    _check_module(ctx, model, "MultivariateLinearRegressionModel", 3, 1,
                  "MultivariateLinearRegressionModel() (default in_features=3)")
    ok, sizes = 0, [randint(g, 1, 4), randint(g, 5, 12)]
    for k in sizes:
        model = _construct(ctx, "MultivariateLinearRegressionModel", k)
        try:
            _check_module(ctx, model, "MultivariateLinearRegressionModel", k, 1, "the model")
            ok += 1
        except Fail:
            pass
    score_fraction(ok, len(sizes), "with the default in_features the structure is right, but for "
                                   "other values of in_features it is right in only {passed} of "
                                   "{total} cases: build nn.Linear(in_features, 1) from the argument")


@test("MultivariateLinearRegressionModel", 1.5,
      "MultivariateLinearRegressionModel: forward computes x W^T + b for known weights")
def regression_model_forward(ctx) -> None:
    g = ctx.generator()
    cases = [(None, 5)] + [(randint(g, 1, 8), randint(g, 1, 9)) for _ in range(3)] + [(4, 1)]
    earned, right, squeezed, bad_in = 0.0, 0, False, False
    for k, n in cases:
        n_in = 3 if k is None else k
        model = _construct(ctx, "MultivariateLinearRegressionModel", *(() if k is None else (k,)))
        W = torch.randn(1, n_in, generator=g)
        b = torch.randn(1, generator=g)
        try:
            _load_weights(model, W, b, "the model")
        except Fail:
            bad_in = True
            continue
        x = torch.randn(n, n_in, generator=g) * 10
        got = model(x)
        want = x @ W.T + b
        if not isinstance(got, torch.Tensor) or got.numel() != n or not got.is_floating_point():
            continue
        close = torch.allclose(got.detach().reshape(-1).double(), want.reshape(-1).double(),
                               rtol=1e-4, atol=1e-4)
        if close and tuple(got.shape) == (n, 1):
            earned += 1
            right += 1
        elif close:
            earned += 0.5
            squeezed = True
    if earned < len(cases):
        parts = [f"forward is right for {right} of {len(cases)} batches with known weights"]
        if squeezed:
            parts.append("the values are right but forward must keep the (N, 1) shape of "
                         "nn.Linear's output (do not squeeze or flatten it)")
        if bad_in:
            parts.append("for some values of in_features the model does not hold one weight of "
                         "shape (1, in_features) and one bias of shape (1,)")
        if not squeezed and not bad_in:
            parts.append("forward should return self.linear(x), i.e. x W^T + b, of shape (N, 1)")
        raise Fail("; ".join(parts), earned / len(cases))


@test("MultivariateLinearRegressionModel", 0.5,
      "MultivariateLinearRegressionModel: the lecture's exam batch gives (5, 1) predictions")
def regression_model_shape(ctx) -> None:
    model = _construct(ctx, "MultivariateLinearRegressionModel")
    got = model(X_EXAM)
    if not isinstance(got, torch.Tensor):
        raise Fail(f"model(x) should return a tensor, but it returned {describe_value(got)}")
    if tuple(got.shape) != (5, 1):
        raise Fail(f"model(x_train) has shape {tuple(got.shape)}, expected (5, 1): keep the "
                   "(N, 1) shape so that it matches y_train in F.mse_loss")
    if got.dtype != torch.float32:
        raise Fail(f"model(x_train) has dtype {got.dtype}, expected torch.float32")
