"""mse_gradients: the hand-derived gradient of the MSE, against the reference and autograd.

A wrong gradient that is the right one times a telling constant (n, 2, -1, ...) is
recognised and named, and earns part of its case.
"""

from __future__ import annotations

import torch

from .. import static
from ..api import randint
from ..framework import Registry, by_hand, unpack
from ._common import (
    _DIAGNOSABLE_N,
    F64,
    RECOGNISED,
    X_EXAM,
    X_LINE,
    Y_EXAM,
    Y_LINE,
    _add,
    _autograd_grads,
    _call,
    _close,
    _factor,
    _is,
    _pick,
    _regression_case,
    _score,
    _with_autograd_off,
    blames_earlier,
)

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- mse_gradients


def _gradient_hint(c: float | None, n: int) -> str:
    """The usual hand-derivation mistakes, recognised from the constant factor."""
    if c is None or _is(c, 1.0):
        return ""
    if n > 1 and _is(c, n):
        return ("off by a factor of N (the number of samples): did you sum instead of averaging "
                "over the batch?")
    if n > 2 and _is(c, n / 2):
        return ("off by a factor of N/2: did you sum over the batch and also drop the factor 2 "
                "from the square?")
    if _is(c, 0.5):
        return "half the right value: did you forget the factor 2 that comes from the square?"
    if _is(c, 2.0):
        return "twice the right value: is a constant factor counted twice?"
    if _is(c, -1.0):
        return ("off by a factor of -1, a sign error: the residual is H(X) - y (prediction "
                "minus target), and the gradient points uphill")
    if n > 1 and _is(c, -n):
        return ("off by a factor of -N, a sign error and a sum: use H(X) - y and average over "
                "the batch")
    if n > 1 and _is(c, 1.0 / n):
        return "too small by a factor of N: divide by N once"
    return ""


def _gradient_cases(ctx, cases, what: str, *, fn=None, tol: float | None = None) -> None:
    """Score dW and db separately (half a case each), against the reference and autograd."""
    fn = fn or ctx.student.mse_gradients
    ok, partial, hints, errors = 0.0, False, [], []
    for X, y, W, b in cases:
        wdW, wdb = ctx.ref.mse_gradients(X.double(), y.double(), W.double(), b.double())
        adW, adb = _autograd_grads(X, y, W, b)
        got, err = _call(fn, X, y, W, b)
        if err is not None:
            _add(errors, err)
            continue
        dW, db = unpack(got, 2, "mse_gradients")
        t = tol if tol is not None else (1e-9 if X.dtype == F64 else 1e-4)
        n = X.shape[0]
        for name, value, want, auto in (("dW", dW, wdW, adW), ("db", db, wdb, adb)):
            if _close(value, want, rtol=t, atol=t, dtype=X.dtype) \
                    and _close(value, auto, rtol=t, atol=t):
                ok += 1
                continue
            if isinstance(value, torch.Tensor) and value.numel() == want.numel() \
                    and tuple(value.shape) != tuple(want.shape):
                _add(hints, f"{name} must have the shape of {name[1:]}")
            elif isinstance(value, torch.Tensor) and value.dtype != X.dtype \
                    and _close(value, want, rtol=1e-4, atol=1e-4):
                _add(hints, f"{name} must keep the dtype of the inputs")
            hint = _gradient_hint(_factor(value, want), n)
            ok += RECOGNISED * bool(hint)
            partial = partial or bool(hint)
            _add(hints, f"{name} is {hint}" if hint else "")
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(ok, 2 * len(cases),
        f"mse_gradients: {{passed}} of {{total}} gradients (dW and db of {len(cases)} {what}) "
        "are right", hints, limit=3, partial=partial)


@test("mse_gradients", 1.5, "mse_gradients: random data (float64), checked against autograd")
@blames_earlier("mse_gradients")
def mse_gradients_random(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), randint(g, 1, 5), F64)
             for _ in range(5)]
    _gradient_cases(ctx, cases, "random float64 data sets")


@test("mse_gradients", 1, "mse_gradients: random data, float32")
@blames_earlier("mse_gradients")
def mse_gradients_float32(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), randint(g, 1, 4)) for _ in range(4)]
    _gradient_cases(ctx, cases, "random float32 data sets (the results stay float32)")


@test("mse_gradients", 0.5, "mse_gradients: one sample (N = 1) and one feature (d = 1)")
@blames_earlier("mse_gradients")
def mse_gradients_edges(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, 1, 3, F64), _regression_case(g, 7, 1, F64),
             _regression_case(g, 1, 1, F64)]
    _gradient_cases(ctx, cases, "data sets with one sample or one feature")


@test("mse_gradients", 0.5, "mse_gradients: the lecture's data sets (shapes of W and b kept)")
@blames_earlier("mse_gradients")
def mse_gradients_lecture(ctx) -> None:
    line = lambda w, b: (X_LINE, Y_LINE, torch.tensor([[w]]), torch.tensor([b]))  # noqa: E731
    cases = [line(0.0, 0.0), line(2.0, 0.5),
             (X_EXAM, Y_EXAM, torch.full((3, 1), 0.5), torch.tensor([2.0]))]
    _gradient_cases(ctx, cases, "lecture data sets (x = y = (1, 2, 3) and the exam scores)")


@test("mse_gradients", 0.75, "mse_gradients: works with autograd switched off")
@blames_earlier("mse_gradients")
def mse_gradients_no_grad(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), randint(g, 1, 4), F64)
             for _ in range(2)]
    _with_autograd_off(
        lambda: _gradient_cases(ctx, cases, "data sets under torch.no_grad()",
                                fn=ctx.student.mse_gradients.options(grad=False)),
        "mse_gradients fails when autograd is switched off (torch.no_grad()): compute the "
        "gradient from your formula, without requires_grad, .backward() or torch.autograd")


@test("mse_gradients", 0.75, "mse_gradients: derived by hand, no autograd (source check)",
      kind="static")
def mse_gradients_static(ctx) -> None:
    by_hand(ctx, static.AUTOGRAD,
            "mse_gradients must compute the gradient from the formula, without autograd",
            missing="mse_gradients is missing")
