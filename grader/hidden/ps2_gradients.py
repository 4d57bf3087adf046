"""Hidden tests for ps2_gradients: linear regression, hand-derived gradients, gradient descent.

Every student call that can fail on one input is made per case, so a bug that only shows
for some shapes (``X * W`` instead of ``X @ W`` works for one feature) costs those cases,
not the whole test, and the message can still name the mistake seen on the others.
Expected values come from the reference (``ctx.ref``), from autograd run here in the
trusted process, or from a plain re-implementation below (``_simulate``), which also
recognises the usual mistakes (cost recorded after the update, no ``zero_grad``, ...).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..sandbox.client import StudentError
from . import static
from .framework import Fail, Registry, describe_value, unpack

registry = Registry()
TESTS = registry.tests
test = registry.test

F32, F64 = torch.float32, torch.float64

# The lecture's data sets (SPEC section 2).
X_LINE = torch.tensor([[1.0], [2.0], [3.0]])
Y_LINE = torch.tensor([[1.0], [2.0], [3.0]])
X_EXAM = torch.tensor([[73.0, 80.0, 75.0], [93.0, 88.0, 93.0], [89.0, 91.0, 90.0],
                       [96.0, 98.0, 100.0], [73.0, 66.0, 70.0]])
Y_EXAM = torch.tensor([[152.0], [185.0], [180.0], [196.0], [142.0]])

# A recognised constant-factor mistake (the structure of the formula is right) earns this
# share of its case; a trivial answer (zeros, a constant) is never recognised.
RECOGNISED = 0.25

# Sample counts for random cases: 1, 2 and 4 are avoided where the message diagnoses a
# constant factor, so that "a factor of n", "a factor of 2" and "n/2" cannot coincide.
_DIAGNOSABLE_N = (3, 5, 6, 7, 9, 11)


# ---------------------------------------------------------------------- helpers


def _call(fn, *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Call the student's function on one case: ``(value, None)`` or ``(None, error)``.

    A missing or unimplemented function still fails the whole test (the runner words it).
    """
    try:
        return fn(*args, **kwargs), None
    except StudentError as exc:
        if exc.type == "NotImplementedError" or (exc.type == "LookupError"
                                                 and "not defined" in exc.message):
            raise
        return None, f"{exc.type}: {exc.message}"[:200]


def _pick(g: torch.Generator, options) -> Any:
    return options[int(torch.randint(0, len(options), (1,), generator=g))]


def _randint(g: torch.Generator, lo: int, hi: int) -> int:
    """A random int in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def _randn(g: torch.Generator, *shape: int, dtype: torch.dtype = F32) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=F64).to(dtype)


def _regression_case(g: torch.Generator, n: int, d: int, dtype: torch.dtype = F32):
    """X (n, d), y (n, 1), W (d, 1), b (1,): a random point away from the optimum."""
    X = _randn(g, n, d, dtype=dtype)
    y = _randn(g, n, 1, dtype=dtype)
    W = _randn(g, d, 1, dtype=dtype)
    b = _randn(g, 1, dtype=dtype)
    return X, y, W, b


def _fit_case(g: torch.Generator, n: int, d: int, dtype: torch.dtype = F32):
    """X (n, d) and y (n, 1) from a noisy line, for gradient descent."""
    X = _randn(g, n, d, dtype=dtype)
    y = (X.double() @ _randn(g, d, 1, dtype=F64) + 0.5 + 0.1 * _randn(g, n, 1, dtype=F64)).to(dtype)
    return X, y


def _is_tensor_like(value: Any, shape: tuple[int, ...]) -> bool:
    return (isinstance(value, torch.Tensor) and tuple(value.shape) == tuple(shape)
            and value.is_floating_point() and bool(torch.isfinite(value).all()))


def _close(got: Any, want: torch.Tensor, *, rtol: float, atol: float,
           dtype: torch.dtype | None = None) -> bool:
    """Right shape, finite, (right dtype) and close to ``want``."""
    if not _is_tensor_like(got, tuple(want.shape)):
        return False
    if dtype is not None and got.dtype != dtype:
        return False
    return bool(torch.allclose(got.detach().double(), want.detach().double(), rtol=rtol, atol=atol))


def _number(value: Any) -> float | None:
    """A scalar as a float: Python/NumPy numbers and one-element tensors; else None."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            return None
        value = value.detach().double().item()
    elif isinstance(value, np.generic) and np.issubdtype(type(value), np.number):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _numbers(values: Any) -> list[float] | None:
    if not isinstance(values, (list, tuple)):
        return None
    out = [_number(v) for v in values]
    return None if any(v is None for v in out) else out  # type: ignore[return-value]


def _near(a: float | None, b: float, *, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    return a is not None and abs(a - b) <= atol + rtol * abs(b)


def _factor(got: Any, want: torch.Tensor, rel: float = 1e-4) -> float | None:
    """``c`` when ``got`` is ``c * want`` up to ``rel`` for one constant c, else None."""
    if not isinstance(got, torch.Tensor) or got.numel() != want.numel() or got.numel() == 0:
        return None
    g = got.detach().double().flatten()
    w = want.detach().double().flatten()
    if not bool(torch.isfinite(g).all()):
        return None
    ww = float(w @ w)
    if ww < 1e-18:
        return None
    c = float(g @ w) / ww
    if float((g - c * w).norm()) > rel * (abs(c) + 1e-3) * math.sqrt(ww):
        return None
    return c


def _is(c: float | None, value: float, tol: float = 2e-3) -> bool:
    return c is not None and abs(c - value) <= tol * max(1.0, abs(value))


def _gradient_hint(c: float | None, n: int) -> str:
    """The usual hand-derivation mistakes, recognised from the constant factor."""
    if c is None or _is(c, 1.0):
        return ""
    if n > 1 and _is(c, n):
        return "off by a factor of n: did you sum instead of averaging over the batch?"
    if n > 2 and _is(c, n / 2):
        return ("off by a factor of n/2: did you sum over the batch and also drop the factor 2 "
                "from the square?")
    if _is(c, 0.5):
        return "half the right value: did you forget the factor 2 that comes from the square?"
    if _is(c, 2.0):
        return "twice the right value: the factor 2/n belongs in the formula once"
    if _is(c, -1.0):
        return ("off by a factor of -1, a sign error: the residual is H(X) - y (prediction "
                "minus target), and the gradient points uphill")
    if n > 1 and _is(c, -n):
        return ("off by a factor of -n, a sign error and a sum: use H(X) - y and average over "
                "the batch")
    if n > 1 and _is(c, 1.0 / n):
        return "too small by a factor of n: divide by n once"
    return ""


def _add(hints: list[str], hint: str) -> None:
    if hint and hint not in hints:
        hints.append(hint)


def _with_hints(message: str, hints: list[str], limit: int = 2) -> str:
    return message + ("; " + "; ".join(hints[:limit]) if hints else "")


def _score(passed: float, total: float, message: str, hints: list[str], limit: int = 2, *,
           partial: bool = False) -> None:
    """Fail with partial credit; ``message`` may use {passed} and {total}.

    Unlike ``score_fraction`` the hints are not formatted, so a student's exception text
    with braces in it cannot break the message.
    """
    if passed < total:
        head = message.format(passed=f"{passed:g}", total=f"{total:g}")
        if partial:
            head += " (counting part of a case for each recognised slip)"
        raise Fail(_with_hints(head, hints, limit), passed / total)


def _autograd_grads(X, y, W, b) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference gradient, by autograd in the trusted process (float64)."""
    with torch.enable_grad():
        Wr = W.detach().double().clone().requires_grad_(True)
        br = b.detach().double().clone().requires_grad_(True)
        torch.mean((X.double() @ Wr + br - y.double()) ** 2).backward()
    return Wr.grad, br.grad


def _simulate(X, y, lr: float, steps: int, *, init_W: float = 0.0, init_b: float = 0.0,
              accumulate: bool = False, cost_after: bool = False,
              ) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Plain gradient descent in float64, optionally with a typical mistake built in."""
    X, y = X.double(), y.double().reshape(-1, 1)
    n, d = X.shape
    W = torch.full((d, 1), init_W, dtype=F64)
    b = torch.full((1,), init_b, dtype=F64)
    gW, gb = torch.zeros_like(W), torch.zeros_like(b)
    costs: list[float] = []
    for _ in range(steps):
        r = X @ W + b - y
        if not cost_after:
            costs.append(float((r ** 2).mean()))
        dW, db = (2.0 / n) * (X.T @ r), (2.0 / n) * r.sum(0)
        gW, gb = (gW + dW, gb + db) if accumulate else (dW, db)
        W, b = W - lr * gW, b - lr * gb
        if cost_after:
            costs.append(float(((X @ W + b - y) ** 2).mean()))
    return W, b, costs


def _fit_result(value: Any, what: str) -> tuple[Any, Any, list[float] | None]:
    """Unpack ``(W, b, costs)``; a wrong container fails the test (it is the contract)."""
    W, b, costs = unpack(value, 3, what)
    return W, b, _numbers(costs)


def _fit_matches(W, b, costs, want: tuple, *, rtol: float, atol: float) -> tuple[bool, bool]:
    """(W and b right, costs right) against ``want = (W, b, costs)``."""
    wW, wb, wc = want
    params = _close(W, wW, rtol=rtol, atol=atol) and _close(b, wb, rtol=rtol, atol=atol)
    costs_ok = costs is not None and len(costs) == len(wc) and (
        not wc or torch.allclose(torch.tensor(costs, dtype=F64), torch.tensor(wc, dtype=F64),
                                 rtol=rtol, atol=atol))
    return params, costs_ok


_START_HINT = "start from W = 0 and b = 0 (zeros), as in the lecture"
_FIT_MISTAKES = (
    (dict(cost_after=True), "costs[k] must be the cost before update k: record the cost "
                            "first, then update W and b"),
    (dict(init_W=1.0), _START_HINT),
    (dict(init_W=1.0, init_b=1.0), _START_HINT),
    (dict(accumulate=True), "the gradients pile up from step to step: call "
                            "optimizer.zero_grad() before cost.backward() in every step"),
)


def _fit_hint(X, y, lr: float, steps: int, W, b, costs) -> str:
    """Name the mistake whose simulation reproduces the student's result, if any."""
    for variant, hint in _FIT_MISTAKES:
        params, costs_ok = _fit_matches(W, b, costs, _simulate(X, y, lr, steps, **variant),
                                        rtol=2e-3, atol=1e-5)
        if params and costs_ok:
            return hint
    return ""


# ---------------------------------------------------------------- hypothesis

_MATMUL_HINT = ("with several input features H(X) needs the matrix product X @ W "
                "((N, d) @ (d, k) -> (N, k)); the element-wise X * W only works for one feature")


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
            _add(hints, "the result must have shape (N, k): one row per sample")
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(ok, len(cases), f"hypothesis is right for {{passed}} of {{total}} {what}",
           hints)


@test("hypothesis", 1, "hypothesis: random sizes, several features")
def hypothesis_random(ctx) -> None:
    g = ctx.generator()
    cases = []
    for _ in range(6):
        n, d = _randint(g, 1, 9), _randint(g, 2, 6)
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


@test("hypothesis", 0.5, "hypothesis: several outputs (W of shape (d, k), b of shape (k,))")
def hypothesis_outputs(ctx) -> None:
    g = ctx.generator()
    cases = []
    for d, k in ((1, 3), (3, 2), (4, 3)):
        n = _randint(g, 2, 7)
        cases.append((_randn(g, n, d), _randn(g, d, k), _randn(g, k)))
    _hypothesis_cases(ctx, cases, "inputs with k outputs per sample (b is added to every row)")


# ---------------------------------------------------------------- mse_cost


def _cost_hint(got: float | None, want: float, n: int) -> str:
    if got is None or want <= 1e-9:
        return ""
    c = got / want
    if n > 1 and _is(c, n):
        return "off by a factor of n: did you sum instead of taking the mean over the samples?"
    if _is(c, 0.5):
        return ("half the right value: this cost is the plain mean of the squared errors, "
                "without the 1/2 of the 1/(2m) convention")
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
def mse_cost_random(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), _randint(g, 1, 5)) for _ in range(6)]
    _cost_cases(ctx, cases, "random data sets")


@test("mse_cost", 0.5, "mse_cost: returns a 0-dim tensor")
def mse_cost_0dim(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, 3, 1), _regression_case(g, 5, 3), _regression_case(g, 1, 2)]
    _cost_cases(ctx, cases, "data sets as a 0-dim tensor with the right value", need_0dim=True)


@test("mse_cost", 0.75, "mse_cost: one sample, one feature, float64")
def mse_cost_edges(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, 1, 3), _regression_case(g, 6, 1),
             _regression_case(g, 5, 3, F64), _regression_case(g, 1, 1, F64)]
    _cost_cases(ctx, cases, "data sets with one sample, one feature, or float64 values")


@test("mse_cost", 0.5, "mse_cost: the lecture's worked numbers")
def mse_cost_lecture(ctx) -> None:
    line = lambda w, b: (X_LINE, Y_LINE, torch.tensor([[w]]), torch.tensor([b]))  # noqa: E731
    cases = [line(0.0, 0.0), line(2.0, 0.0), line(1.0, 0.5),
             (X_EXAM, Y_EXAM, torch.zeros(3, 1), torch.zeros(1))]
    _cost_cases(ctx, cases, "of the lecture's worked examples (x = y = (1, 2, 3) and the "
                            "exam scores)")


# ---------------------------------------------------------------- mse_gradients


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
def mse_gradients_random(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), _randint(g, 1, 5), F64)
             for _ in range(5)]
    _gradient_cases(ctx, cases, "random float64 data sets")


@test("mse_gradients", 1, "mse_gradients: random data, float32")
def mse_gradients_float32(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), _randint(g, 1, 4)) for _ in range(4)]
    _gradient_cases(ctx, cases, "random float32 data sets (the results stay float32)")


@test("mse_gradients", 0.5, "mse_gradients: one sample (n = 1) and one feature (d = 1)")
def mse_gradients_edges(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, 1, 3, F64), _regression_case(g, 7, 1, F64),
             _regression_case(g, 1, 1, F64)]
    _gradient_cases(ctx, cases, "data sets with one sample or one feature")


@test("mse_gradients", 0.5, "mse_gradients: the lecture's data sets (shapes of W and b kept)")
def mse_gradients_lecture(ctx) -> None:
    line = lambda w, b: (X_LINE, Y_LINE, torch.tensor([[w]]), torch.tensor([b]))  # noqa: E731
    cases = [line(0.0, 0.0), line(2.0, 0.5),
             (X_EXAM, Y_EXAM, torch.full((3, 1), 0.5), torch.tensor([2.0]))]
    _gradient_cases(ctx, cases, "lecture data sets (x = y = (1, 2, 3) and the exam scores)")


@test("mse_gradients", 0.75, "mse_gradients: works with autograd switched off")
def mse_gradients_no_grad(ctx) -> None:
    g = ctx.generator()
    cases = [_regression_case(g, _pick(g, _DIAGNOSABLE_N), _randint(g, 1, 4), F64)
             for _ in range(2)]
    try:
        _gradient_cases(ctx, cases, "data sets under torch.no_grad()",
                        fn=ctx.student.mse_gradients.options(grad=False))
    except Fail as f:
        if "it raised" in f.message:
            raise Fail("mse_gradients fails when autograd is switched off (torch.no_grad()): "
                       "compute the gradient from your formula, without requires_grad, "
                       ".backward() or torch.autograd", f.fraction) from None
        raise


@test("mse_gradients", 0.75, "mse_gradients: derived by hand, no autograd (source check)",
      kind="static")
def mse_gradients_static(ctx) -> None:
    if not ctx.source().strip():
        raise Fail("mse_gradients is missing")
    found = static.forbidden(ctx.source(), static.AUTOGRAD)
    if found:
        raise Fail("mse_gradients must compute the gradient from the formula, without autograd, "
                   f"but it uses {static.summary(found)}")


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
        got, err = _call(ctx.student.numerical_gradient, f, param, *args, **kwargs)
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


# ---------------------------------------------------------------- gradient_descent & autograd


def _lecture_fit_checks(ctx, fn, name: str) -> None:
    """The lecture's numbers (SPEC section 2), one point per check."""
    ok, total, hints, errors = 0, 0, [], []

    def run(X, y, lr, steps, checks) -> None:
        nonlocal ok, total
        total += len(checks)
        got, err = _call(fn, X, y, lr, steps)
        if err is not None:
            _add(errors, err)
            return
        W, b, costs = _fit_result(got, name)
        passed = [bool(check(W, b, costs)) for check in checks]
        ok += sum(passed)
        if not all(passed):
            if costs is None:
                _add(hints, "costs must be a list of numbers")
            _add(hints, _fit_hint(X, y, lr, steps, W, b, costs))

    def cost(k: int, value: float, tol: float, length: int):
        return lambda W, b, c: c is not None and len(c) == length and _near(c[k], value, atol=tol)

    after_one = float(torch.mean((X_LINE * (0.28 / 3) + 0.04 - Y_LINE) ** 2))
    exam = _simulate(X_EXAM, Y_EXAM, 1e-5, 21)
    run(X_LINE, Y_LINE, 0.01, 1, [
        lambda W, b, c: _is_tensor_like(W, (1, 1)) and _near(_number(W), 0.28 / 3, atol=1e-5),
        lambda W, b, c: _is_tensor_like(b, (1,)) and _near(_number(b), 0.04, atol=1e-5),
        cost(0, 14 / 3, 1e-5, 1)])
    run(X_LINE, Y_LINE, 0.01, 2, [cost(1, after_one, 1e-4, 2)])
    run(X_LINE, Y_LINE, 0.01, 1000, [
        lambda W, b, c: _near(_number(W), 0.985, atol=1e-3) and _near(_number(b), 0.033, atol=1e-3)])
    run(X_EXAM, Y_EXAM, 1e-5, 21, [
        lambda W, b, c: _close(W, exam[0], rtol=1e-3, atol=1e-6) and _close(b, exam[1], rtol=1e-3, atol=1e-7),
        cost(0, 29661.8, 0.05, 21), cost(1, 9298.52, 0.05, 21), cost(20, 1.619, 2e-3, 21)])
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(ok, total,
           f"{name} reproduces {{passed}} of {{total}} of the lecture's numbers (x = y = (1, 2, 3) "
           "with lr 0.01 for 1, 2 and 1000 steps; the exam scores with lr 1e-5 for 21 steps)",
           hints)


def _random_fit_checks(ctx, fn, name: str, cases, *, want_fn, what: str = "random runs",
                       extra_hint=None) -> None:
    """Half a case for W and b, half for the cost history; the usual mistakes named."""
    score, partial, hints, errors = 0.0, False, [], []
    for X, y, lr, steps in cases:
        want = want_fn(X, y, lr, steps)
        got, err = _call(fn, X, y, lr, steps)
        if err is not None:
            _add(errors, err)
            continue
        W, b, costs = _fit_result(got, name)
        rtol = 1e-9 if X.dtype == F64 else 1e-4
        params, costs_ok = _fit_matches(W, b, costs, want, rtol=rtol, atol=1e-6)
        if params and isinstance(W, torch.Tensor) and W.dtype != X.dtype:
            params = False
            _add(hints, "W and b must have the dtype of X")
        score += 0.5 * params + 0.5 * costs_ok
        if params and costs_ok:
            continue
        hint = _fit_hint(X, y, lr, steps, W, b, costs)
        if hint == _START_HINT:
            score += RECOGNISED  # the update loop is right; only the starting point is not
            partial = True
        if not hint and params and not costs_ok:
            hint = ("W and b are right but the costs are not: costs[k] is the MSE before "
                    "update k, one Python float per step")
        if not hint and extra_hint is not None:
            hint = extra_hint(X, y)
        _add(hints, hint)
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(score, len(cases), f"{name} is right for {{passed}} of {{total}} {what} (W and b "
           "count half a run, the list of costs the other half)", hints, partial=partial)


def _random_fit_cases(g: torch.Generator, dtypes) -> list:
    cases = []
    for dtype in dtypes:
        X, y = _fit_case(g, _randint(g, 3, 12), _randint(g, 1, 4), dtype)
        cases.append((X, y, _pick(g, (0.01, 0.03, 0.05)), _randint(g, 3, 30)))
    return cases


def _fit_types(ctx, fn, name: str) -> None:
    """float64 in -> float64 out, costs as Python floats; steps = 0 returns the zeros.

    Counts only once a float64 run gives the right W and b, so that a function returning
    zeros of the right types earns nothing.
    """
    g = ctx.generator()
    X, y = _fit_case(g, 5, 2, F64)
    ok, problems, values_ok = 0, [], False
    got, err = _call(fn, X, y, 0.05, 3)
    if err is not None:
        problems.append(f"it raised {err}")
    else:
        W, b, costs = unpack(got, 3, name)
        want = _simulate(X, y, 0.05, 3)
        values_ok = _close(W, want[0], rtol=1e-6, atol=1e-8) and _close(b, want[1], rtol=1e-6, atol=1e-8)
        if not (_is_tensor_like(W, (2, 1)) and _is_tensor_like(b, (1,))):
            problems.append(f"W must be a tensor of shape (d, 1) and b of shape (1,), got "
                            f"{describe_value(W)} and {describe_value(b)}")
        elif W.dtype != F64 or b.dtype != F64:
            problems.append("for float64 data W and b must be float64 (the dtype of X)")
        elif not isinstance(costs, list) or len(costs) != 3 \
                or not all(isinstance(c, float) for c in costs):
            problems.append("costs must be a list with one Python float per step (use .item()), "
                            f"got {describe_value(costs)}"
                            + (f" of {describe_value(costs[0])}" if isinstance(costs, (list, tuple))
                               and costs else ""))
        elif not values_ok:
            problems.append("W and b are wrong for float64 data (see the other tests; this test "
                            "counts once they are right)")
        else:
            ok += 1
    got, err = _call(fn, X, y, 0.05, 0)
    if err is not None:
        problems.append(f"with steps = 0 it raised {err}")
    else:
        W, b, costs = unpack(got, 3, name)
        if not (_is_tensor_like(W, (2, 1)) and _is_tensor_like(b, (1,))):
            problems.append("with steps = 0, W must still have shape (d, 1) and b shape (1,)")
        elif bool(W.abs().max() > 0) or bool(b.abs().max() > 0):
            problems.append("with steps = 0 nothing is updated, so W and b are the starting "
                            "point: start from zeros")
        elif not isinstance(costs, (list, tuple)) or len(costs) != 0:
            problems.append("with steps = 0 no cost is recorded: costs must be an empty list")
        else:
            ok += 1
    if problems:
        raise Fail(f"{name}: " + "; ".join(problems), ok / 2 if values_ok else 0.0)


@test("gradient_descent", 1, "gradient_descent: the lecture's one-variable and exam-score numbers")
def gradient_descent_lecture(ctx) -> None:
    _lecture_fit_checks(ctx, ctx.student.gradient_descent, "gradient_descent")


def _gd_extra_hint(ctx):
    def hint(X, y) -> str:
        W0, b0 = torch.zeros(X.shape[1], 1, dtype=X.dtype), torch.zeros(1, dtype=X.dtype)
        want = ctx.ref.mse_gradients(X.double(), y.double(), W0.double(), b0.double())
        got, err = _call(ctx.student.mse_gradients, X, y, W0, b0)
        if err is None and isinstance(got, (tuple, list)) and len(got) == 2 \
                and all(_close(a, w, rtol=1e-3, atol=1e-4) for a, w in zip(got, want, strict=True)):
            return ""
        return "gradient_descent uses your mse_gradients, which is wrong as well: fix it first"
    return hint


@test("gradient_descent", 1, "gradient_descent: more runs on the lecture's data sets")
def gradient_descent_lecture_more(ctx) -> None:
    # Other learning rates and step counts on the lecture's data, float64 copies too.
    ref = ctx.ref.gradient_descent
    cases = [(X_LINE, Y_LINE, 0.1, 7), (X_LINE.double(), Y_LINE.double(), 0.05, 12),
             (X_EXAM, Y_EXAM, 2e-5, 4), (X_EXAM.double(), Y_EXAM.double(), 1e-5, 9)]
    _random_fit_checks(ctx, ctx.student.gradient_descent, "gradient_descent", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s), extra_hint=_gd_extra_hint(ctx),
                       what="runs on the lecture's data with other learning rates and step counts")


@test("gradient_descent", 1, "gradient_descent: random data, float32 and float64")
def gradient_descent_random(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = _random_fit_cases(g, (F32, F32, F32, F64, F64))
    _random_fit_checks(ctx, ctx.student.gradient_descent, "gradient_descent", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s), extra_hint=_gd_extra_hint(ctx))


@test("gradient_descent", 0.5, "gradient_descent: types, dtype, and steps = 0")
def gradient_descent_types(ctx) -> None:
    _fit_types(ctx, ctx.student.gradient_descent, "gradient_descent")


@test("gradient_descent", 0.75, "gradient_descent: works with autograd switched off")
def gradient_descent_no_grad(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = _random_fit_cases(g, (F64, F32))
    try:
        _random_fit_checks(ctx, ctx.student.gradient_descent.options(grad=False),
                           "gradient_descent", cases, want_fn=lambda X, y, lr, s: ref(X, y, lr, s))
    except Fail as f:
        if "it raised" in f.message:
            raise Fail("gradient_descent fails when autograd is switched off (torch.no_grad()): "
                       "update W and b with the gradients from mse_gradients, without "
                       "requires_grad or .backward()", f.fraction) from None
        raise


@test("gradient_descent", 0.75, "gradient_descent: hand-written updates, no autograd (source check)",
      kind="static")
def gradient_descent_static(ctx) -> None:
    if not ctx.source().strip():
        raise Fail("gradient_descent is missing")
    found = static.forbidden(ctx.source(), static.AUTOGRAD)
    if found:
        raise Fail("gradient_descent must update W and b with your mse_gradients, without "
                   f"autograd, but it uses {static.summary(found)}")


# ---------------------------------------------------------------- fit_with_autograd


@test("fit_with_autograd", 1, "fit_with_autograd: the lecture's numbers")
def fit_with_autograd_lecture(ctx) -> None:
    _lecture_fit_checks(ctx, ctx.student.fit_with_autograd, "fit_with_autograd")


@test("fit_with_autograd", 1.5, "fit_with_autograd: agrees with gradient_descent on random data")
def fit_with_autograd_random(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = _random_fit_cases(g, (F32, F32, F32, F64))
    _random_fit_checks(ctx, ctx.student.fit_with_autograd, "fit_with_autograd", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s))


@test("fit_with_autograd", 0.5, "fit_with_autograd: one sample, one feature, float64")
def fit_with_autograd_edges(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = []
    for n, d, dtype in ((1, 3, F64), (6, 1, F64), (1, 1, F32)):
        X, y = _fit_case(g, n, d, dtype)
        cases.append((X, y, 0.05, _randint(g, 3, 15)))
    _random_fit_checks(ctx, ctx.student.fit_with_autograd, "fit_with_autograd", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s),
                       what="runs with one sample, one feature, or float64 data")


@test("fit_with_autograd", 0.5, "fit_with_autograd: types, dtype, and steps = 0")
def fit_with_autograd_types(ctx) -> None:
    _fit_types(ctx, ctx.student.fit_with_autograd, "fit_with_autograd")


@test("fit_with_autograd", 0.5, "fit_with_autograd: uses autograd and torch.optim.SGD (source check)",
      kind="static")
def fit_with_autograd_static(ctx) -> None:
    src = ctx.source()
    missing = [what for key, what in (("backward", "cost.backward()"), ("SGD", "torch.optim.SGD"))
               if not static.forbidden(src, {key: what})]
    if missing:
        raise Fail("fit_with_autograd should let autograd and the optimizer do the work, but it "
                   "does not use " + " or ".join(missing))
