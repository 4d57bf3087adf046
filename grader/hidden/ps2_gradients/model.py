"""hypothesis and mse_cost: the linear model H(X) = X @ W + b and its mean squared error."""

from __future__ import annotations

import torch

from ..api import randint
from ..framework import Registry, describe_value
from ._common import (
    _DIAGNOSABLE_N,
    F64,
    RECOGNISED,
    X_EXAM,
    X_LINE,
    Y_EXAM,
    Y_LINE,
    _add,
    _call,
    _close,
    _is,
    _near,
    _number,
    _pick,
    _randn,
    _regression_case,
    _score,
    blames_earlier,
)

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- hypothesis

_MATMUL_HINT = ("with several input features H(X) needs the matrix product X @ W "
                "((N, d) @ (d, n_out) -> (N, n_out)); the element-wise X * W only works for one feature")


def _hypothesis_cases(ctx, cases, what: str) -> None:
    ok, hints, errors = 0, [], []
    for X, W, b in cases:
        want = ctx.ref.hypothesis(X.double(), W.double(), b.double())
        got, err = _call(ctx.student.hypothesis, X, W, b)
        tol = 1e-10 if X.dtype == F64 else 1e-4
        if err is None and _close(got, want, rtol=tol, atol=tol, dtype=X.dtype):
            ok += 1
            continue
        if err is not None:
            _add(errors, err)
        elif isinstance(got, torch.Tensor) and got.dtype != X.dtype \
                and _close(got, want, rtol=1e-4, atol=1e-4):
            _add(hints, f"keep the dtype of the inputs ({X.dtype} in, {got.dtype} out)")
        if X.shape[1] > 1 and (err is not None or not isinstance(got, torch.Tensor)
                               or tuple(got.shape) != tuple(want.shape)):
            _add(hints, _MATMUL_HINT)
        elif isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(want.shape):
            _add(hints, "the result must have shape (N, n_out): one row per sample")
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(ok, len(cases), f"hypothesis is right for {{passed}} of {{total}} {what}",
           hints)


@test("hypothesis", 1, "hypothesis: random sizes, several features")
def hypothesis_random(ctx) -> None:
    g = ctx.generator()
    cases = []
    for _ in range(6):
        n, d = randint(g, 1, 9), randint(g, 2, 6)
        cases.append((_randn(g, n, d), _randn(g, d, 1), _randn(g, 1)))
    _hypothesis_cases(ctx, cases, "random inputs with several features")


@test("hypothesis", 0.5, "hypothesis: one sample, one feature, float64")
def hypothesis_edges(ctx) -> None:
    g = ctx.generator()
    cases = [(_randn(g, 1, 4), _randn(g, 4, 1), _randn(g, 1)),
             (_randn(g, 6, 1), _randn(g, 1, 1), _randn(g, 1)),
             (_randn(g, 5, 3, dtype=F64), _randn(g, 3, 1, dtype=F64), _randn(g, 1, dtype=F64))]
    _hypothesis_cases(ctx, cases, "inputs with one sample, one feature, or float64 values "
                                  "(a float64 input gives a float64 result)")


@test("hypothesis", 0.5, "hypothesis: several outputs (W of shape (d, n_out), b of shape (n_out,))")
def hypothesis_outputs(ctx) -> None:
    g = ctx.generator()
    cases = []
    for d, k in ((1, 3), (3, 2), (4, 3)):
        n = randint(g, 2, 7)
        cases.append((_randn(g, n, d), _randn(g, d, k), _randn(g, k)))
    _hypothesis_cases(ctx, cases, "inputs with several outputs per sample (b is added to every row)")


# ---------------------------------------------------------------- mse_cost


def _cost_hint(got: float | None, want: float, n: int) -> str:
    if got is None or want <= 1e-9:
        return ""
    c = got / want
    if n > 1 and _is(c, n):
        return ("off by a factor of N (the number of samples): did you sum instead of taking the "
                "mean over the samples?")
    if _is(c, 0.5):
        return ("half the right value: this cost is the plain mean of the squared errors, "
                "without the 1/2 of the 1/(2N) convention")
    if _near(got * got, want, rtol=1e-3):
        return "did you take the square root? That is the RMSE; the MSE has no square root"
    return ""


def _cost_cases(ctx, cases, what: str, *, need_0dim: bool = False) -> None:
    ok, partial, hints, errors = 0.0, False, [], []
    for X, y, W, b in cases:
        want = float(ctx.ref.mse_cost(X.double(), y.double(), W.double(), b.double()))
        got, err = _call(ctx.student.mse_cost, X, y, W, b)
        if err is not None:
            _add(errors, err)
            continue
        value = _number(got)
        rtol = 1e-10 if X.dtype == F64 else 1e-4
        right = _near(value, want, rtol=rtol, atol=rtol)
        if right and X.dtype == F64 and isinstance(got, torch.Tensor) and got.dtype != F64:
            right = False
            _add(hints, "for float64 inputs compute (and return) the cost in float64")
        if right and need_0dim and not (isinstance(got, torch.Tensor) and got.dim() == 0):
            right = False
            _add(hints, "it should return a 0-dim tensor (like tensor(4.6667)), not "
                 + describe_value(got) + " (take the mean over all entries, without dim=)")
        if value is None and got is not None:
            _add(hints, f"it should return a 0-dim tensor, not {describe_value(got)}")
        ok += right
        if not right:
            hint = _cost_hint(value, want, X.shape[0])
            ok += RECOGNISED * bool(hint)
            partial = partial or bool(hint)
            _add(hints, hint)
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(ok, len(cases), f"mse_cost is right for {{passed}} of {{total}} {what}",
           hints, partial=partial)


@test("mse_cost", 1.25, "mse_cost: random data, float32")
@blames_earlier("mse_cost")
def mse_cost_random(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), randint(g, 1, 5)) for _ in range(6)]
    _cost_cases(ctx, cases, "random data sets")


@test("mse_cost", 0.5, "mse_cost: returns a 0-dim tensor")
@blames_earlier("mse_cost")
def mse_cost_0dim(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, 3, 1), _regression_case(g, 5, 3), _regression_case(g, 1, 2)]
    _cost_cases(ctx, cases, "data sets as a 0-dim tensor with the right value", need_0dim=True)


@test("mse_cost", 0.75, "mse_cost: one sample, one feature, float64")
@blames_earlier("mse_cost")
def mse_cost_edges(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, 1, 3), _regression_case(g, 6, 1),
             _regression_case(g, 5, 3, F64), _regression_case(g, 1, 1, F64)]
    _cost_cases(ctx, cases, "data sets with one sample, one feature, or float64 values")


@test("mse_cost", 0.5, "mse_cost: the lecture's worked numbers")
@blames_earlier("mse_cost")
def mse_cost_lecture(ctx) -> None:
    line = lambda w, b: (X_LINE, Y_LINE, torch.tensor([[w]]), torch.tensor([b]))  # noqa: E731
    cases = [line(0.0, 0.0), line(2.0, 0.0), line(1.0, 0.5),
             (X_EXAM, Y_EXAM, torch.zeros(3, 1), torch.zeros(1))]
    _cost_cases(ctx, cases, "of the lecture's worked examples (x = y = (1, 2, 3) and the "
                            "exam scores)")
