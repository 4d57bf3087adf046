"""Whole training runs, checked against the lecture's numbers and against re-simulation.

Shared by the gradient_descent and fit_with_autograd tests (``descent.py``). Expected runs
come from the reference or from ``_simulate``, a plain re-implementation that can also
build in the usual mistakes (cost recorded after the update, no ``zero_grad``, a wrong
start) so that the message can name the one that was made.
"""

from __future__ import annotations

from typing import Any

import torch

from ..api import randint
from ..framework import Fail, describe_value, unpack
from ._common import (
    F64,
    RECOGNISED,
    X_EXAM,
    X_LINE,
    Y_EXAM,
    Y_LINE,
    _add,
    _call,
    _close,
    _fit_case,
    _is_tensor_like,
    _near,
    _number,
    _numbers,
    _pick,
    _score,
)

# ---------------------------------------------------------------- gradient_descent & autograd


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


def _random_fit_checks(ctx, fn, name: str, cases, *, want_fn, what: str = "random runs") -> None:
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
        _add(hints, hint)
    if errors:
        _add(hints, "it raised " + errors[0])
    _score(score, len(cases), f"{name} is right for {{passed}} of {{total}} {what} (W and b "
           "count half a run, the list of costs the other half)", hints, partial=partial)


def _random_fit_cases(g: torch.Generator, dtypes) -> list:
    cases = []
    for dtype in dtypes:
        X, y = _fit_case(g, randint(g, 3, 12), randint(g, 1, 4), dtype)
        cases.append((X, y, _pick(g, (0.01, 0.03, 0.05)), randint(g, 3, 30)))
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
