"""numerical_gradient: central differences, compared with analytic gradients.

The usual mistakes (one-sided differences, param not restored, a fixed eps) are
re-implemented here so that a wrong result can be named.
"""

from __future__ import annotations

from typing import Any

import torch

from ..framework import Fail, Registry
from ._common import (
    F32,
    F64,
    RECOGNISED,
    _add,
    _autograd_grads,
    _call,
    _close,
    _factor,
    _is,
    _randn,
    _regression_case,
    _score,
)

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- numerical_gradient


def _bumpy(p: torch.Tensor, c: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """f(p) = sum w (p - c)^2 + 0.1 sum p^3: separable, with a nonzero third derivative."""
    return ((p - c) ** 2 * w).sum() + (p ** 3).sum() * 0.1


def _bumpy_grad(p, c, w) -> torch.Tensor:
    p, c, w = p.double(), c.double(), w.double()
    return 2 * (p - c) * w + 0.3 * p ** 2


def _differences(f_of, p: torch.Tensor, eps: float, *, sign: float = 0.0,
                 restore: bool = True) -> torch.Tensor:
    """Finite differences of ``f_of(q)`` at p, in float64, element by element.

    ``sign`` 0 is the central difference; +1 / -1 the forward / backward one. With
    ``restore=False`` each element keeps its last change, as in a common bug.
    """
    q = p.detach().double().clone()
    out = torch.zeros_like(q)
    for j in range(q.numel()):
        orig = float(q.view(-1)[j])
        q.view(-1)[j] = orig + eps if sign >= 0 else orig
        hi = float(f_of(q))
        q.view(-1)[j] = orig - eps if sign <= 0 else orig
        lo = float(f_of(q))
        if restore:
            q.view(-1)[j] = orig
        out.view(-1)[j] = (hi - lo) / ((2 if sign == 0 else 1) * eps)
    return out


_ONE_SIDED = ("this is a one-sided difference; use the central difference "
              "(f(p + eps) - f(p - eps)) / (2 eps), which is far more accurate")


def _variants(f_of, p: torch.Tensor, eps: float) -> list[tuple[torch.Tensor, str, float]]:
    """Results of the usual mistakes: (result, hint, share of the case it still earns)."""
    out = [(_differences(f_of, p, eps, sign=1.0), _ONE_SIDED, 0.5),
           (_differences(f_of, p, eps, sign=-1.0), _ONE_SIDED, 0.5),
           (_differences(f_of, p, eps, restore=False),
            "each element must get its original value back before the next one is changed "
            "(f reads all of param, so a leftover change spoils the next differences)", 0.0)]
    if eps != 1e-4:
        out.append((_differences(f_of, p, 1e-4), "this is the central difference for a fixed "
                    "step, not for the eps you were given: use the eps argument", 0.0))
    return out


def _numgrad_hint(got: Any, want: torch.Tensor, variants: list[tuple[torch.Tensor, str, float]],
                  rel: float = 1e-4) -> tuple[str, float]:
    """(what is probably wrong, the share of the case it still earns); ``rel``: how exactly
    a constant factor must fit (float32 differences are noisy)."""
    if not isinstance(got, torch.Tensor) or got.numel() != want.numel():
        return "", 0.0
    if tuple(got.shape) != tuple(want.shape):
        if want.dim() == 0:
            return ("the result must have the shape of param (for a 0-dim param, a 0-dim "
                    "tensor; itertools.product() of no ranges yields the single index ())"), 0.0
        return "the result must have the shape of param", 0.0
    for value, hint, credit in variants:
        if _close(got, value, rtol=1e-7, atol=1e-9) and not _close(value, want, rtol=1e-7, atol=1e-9):
            return hint, credit
    c = _factor(got, want, rel)
    tol = max(2e-3, rel)
    if _is(c, 2.0, tol):
        return "twice the right value: the central difference divides by 2 * eps, not eps", RECOGNISED
    if _is(c, 0.5, tol):
        return "half the right value: divide by 2 * eps", RECOGNISED
    if _is(c, -1.0, tol):
        return "sign error: it is f(p + eps) - f(p - eps), in that order", RECOGNISED
    if c is not None and abs(c) < 1e-6:
        return ("the result is zero: f reads param itself, so change the elements of param in "
                "place (not a copy) before calling f()"), 0.0
    return "", 0.0


def _numgrad_cases(ctx, cases, message: str, *, tol: float) -> None:
    """``cases``: (f_of(q), param, f() for the student, extra positional args, kwargs, want).

    ``want`` None means the central difference of ``f_of`` at the eps of the call.
    """
    ok, partial, hints, errors = 0.0, False, [], []
    for f_of, param, f, args, kwargs, want in cases:
        eps = args[0] if args else kwargs.get("eps", 1e-4)
        dtype = param.dtype
        if want is None:
            want = _differences(f_of, param, eps)
        variants = _variants(f_of, param, eps) if dtype == F64 else []
        saved = param.clone()
        # f() reads param here, on the trusted side, so the student's in-place changes to
        # param must come back before each callback: asked for explicitly (sync=True), on a
        # tensor of this case alone.
        got, err = _call(ctx.student.numerical_gradient.options(sync=True), f, param, *args, **kwargs)
        with torch.no_grad():
            param.copy_(saved)  # the last callback left the student's last change here
        if err is not None:
            _add(errors, err)
            continue
        if _close(got, want, rtol=tol, atol=tol, dtype=dtype):
            ok += 1
            continue
        if isinstance(got, torch.Tensor) and got.dtype != dtype and _close(got, want, rtol=tol, atol=tol):
            _add(hints, f"return the dtype of param ({dtype}), not {got.dtype}")
            continue
        hint, credit = _numgrad_hint(got, want, variants, rel=1e-4 if dtype == F64 else 2e-2)
        ok, partial = ok + credit, partial or credit > 0
        _add(hints, hint)
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(ok, len(cases), message, hints, partial=partial)


def _bumpy_cases(g: torch.Generator, shapes, dtype: torch.dtype) -> list:
    cases = []
    for shape in shapes:
        p = _randn(g, *shape, dtype=dtype)
        sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(dtype)
        c = p - sign * (0.5 + torch.rand(shape, generator=g)).to(dtype)
        w = (0.5 + torch.rand(shape, generator=g)).to(dtype)
        cases.append((lambda q, c=c, w=w: _bumpy(q, c.double(), w.double()), p,
                      lambda p=p, c=c, w=w: _bumpy(p, c, w), (), {}, _bumpy_grad(p, c, w)))
    return cases


@test("numerical_gradient", 1.5, "numerical_gradient: float64 parameters of several shapes")
def numerical_gradient_float64(ctx) -> None:
    # Compared with the analytic gradient: a central difference at eps = 1e-4 is within ~1e-9.
    cases = _bumpy_cases(ctx.generator(), [(3,), (2, 3), (4, 1), (1,), (2, 2, 2)], F64)
    _numgrad_cases(ctx, cases, "numerical_gradient is right for {passed} of {total} float64 "
                               "parameters (1-D, 2-D and 3-D) of a smooth function", tol=1e-6)


@test("numerical_gradient", 1, "numerical_gradient: float32 parameters")
def numerical_gradient_float32(ctx) -> None:
    # float32 keeps about 7 digits; a central difference at eps = 1e-4 agrees to ~1e-3.
    cases = _bumpy_cases(ctx.generator(), [(4,), (3, 2)], F32)
    _numgrad_cases(ctx, cases, "numerical_gradient is right for {passed} of {total} float32 "
                               "parameters (the result stays float32)", tol=2e-2)


@test("numerical_gradient", 0.5, "numerical_gradient: a 0-dim parameter and the eps argument")
def numerical_gradient_eps(ctx) -> None:
    g = ctx.generator()
    s = _randn(g, 1, dtype=F64).reshape(()) + 0.5
    v = _randn(g, 3, dtype=F64)

    def f_s(q: torch.Tensor) -> torch.Tensor:
        return torch.sin(q) + q ** 3

    def f_v(q: torch.Tensor) -> torch.Tensor:
        return (q ** 3).sum() + torch.cos(q).sum()

    _numgrad_cases(ctx, [(f_s, s, lambda: f_s(s), (), {"eps": 1e-2}, None),
                         (f_v, v, lambda: f_v(v), (1e-3,), {}, None)],
                   "numerical_gradient is right for {passed} of {total} calls with a 0-dim "
                   "param or an explicit eps", tol=1e-9)


@test("numerical_gradient", 0.5, "numerical_gradient: checks the gradient of the MSE cost")
def numerical_gradient_mse(ctx) -> None:
    g = ctx.generator()
    X, y, W, b = _regression_case(g, 6, 3, F64)
    want_W, want_b = _autograd_grads(X, y, W, b)  # the cost is quadratic: exact up to rounding

    def cost() -> torch.Tensor:
        return torch.mean((X @ W + b - y) ** 2)

    _numgrad_cases(ctx, [(lambda q: torch.mean((X @ q + b - y) ** 2), W, cost, (), {}, want_W),
                         (lambda q: torch.mean((X @ W + q - y) ** 2), b, cost, (), {}, want_b)],
                   "numerical_gradient of the MSE cost with respect to W and b is right for "
                   "{passed} of {total} parameters", tol=1e-6)


@test("numerical_gradient", 0.5, "numerical_gradient: param holds its original values afterwards")
def numerical_gradient_restores(ctx) -> None:
    g = ctx.generator()
    p = _randn(g, 2, 3)
    c = _randn(g, 2, 3)
    before = p.clone()
    want = _bumpy_grad(p, c, torch.ones_like(p))
    got = ctx.student.numerical_gradient.options(sync=True)(lambda: _bumpy(p, c, torch.ones_like(p)), p)
    if not _close(got, want, rtol=2e-2, atol=2e-2):
        raise Fail("numerical_gradient has to give the right gradient (see the other tests) "
                   "before restoring param can be checked")
    if torch.equal(p, before):
        return
    if torch.allclose(p, before, rtol=1e-5, atol=1e-6):
        raise Fail("param is almost, but not exactly, restored: save each original value and "
                   "write it back, instead of adding and subtracting eps")
    raise Fail("param was not restored: after the call it must hold exactly its original "
               "values (write back each element's original value)")
