"""Shared by the ps2_gradients tests: the lecture's data, case generators, checks and scoring."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..api import NotDefined, RuleBroken, StudentError
from ..framework import Fail

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
        if exc.type == "NotImplementedError" or isinstance(exc, NotDefined):
            raise
        return None, f"{exc.type}: {exc.message}"[:200]


def _pick(g: torch.Generator, options) -> Any:
    return options[int(torch.randint(0, len(options), (1,), generator=g))]




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


def _with_autograd_off(checks: Callable[[], None], explain: str) -> None:
    """Run ``checks`` on a student function called under torch.no_grad().

    A crash there (not a wrong value) means the answer leans on autograd, which ``explain``
    says in the student's terms; the partial credit of the checks that passed is kept.
    """
    try:
        checks()
    except Fail as f:
        if "it raised" in f.message:
            raise Fail(explain, f.fraction) from None
        raise


# ---------------------------------------------------------------------- earlier answers

# The earlier answers each function is meant to call (the reference's answers do). When a
# test of the later function fails, a wrong earlier answer is named as the probable cause.
CALLS = {"mse_cost": ("hypothesis",), "mse_gradients": ("hypothesis",),
         "gradient_descent": ("mse_cost", "mse_gradients"), "fit_with_autograd": ("mse_cost",)}
# The earlier answers with a rule on *how* (the set's RULES): their breach shows up in the
# later function's call too.
_RULED = {"mse_gradients": "autograd"}


def _below(name: str) -> tuple[str, ...]:
    """Every earlier answer ``name`` may reach, nearest first."""
    out: list[str] = []
    for earlier in CALLS.get(name, ()):
        for n in (earlier, *_below(earlier)):
            if n not in out:
                out.append(n)
    return tuple(out)


def _agrees(name: str, got: Any, want: Any) -> bool:
    if name == "mse_cost":
        return _near(_number(got), float(want), rtol=1e-4, atol=1e-6)
    if name == "mse_gradients":
        return (isinstance(got, (tuple, list)) and len(got) == 2
                and all(_close(g, w, rtol=1e-4, atol=1e-6) for g, w in zip(got, want, strict=True)))
    return _close(got, want, rtol=1e-4, atol=1e-6)


def _earlier_problem(ctx, name: str) -> str:
    """What is wrong with the student's ``name`` on two small cases, in words, or ""."""
    g = torch.Generator().manual_seed(20261126)
    for n, d, dtype in ((5, 3, F64), (3, 1, F32)):
        X, y, W, b = _regression_case(g, n, d, dtype)
        args = (X, W, b) if name == "hypothesis" else (X, y, W, b)
        want = getattr(ctx.ref, name)(*(a.double() for a in args))
        fn = getattr(ctx.student, name)
        try:
            # A breach of a rule is only raised (not just recorded) with autograd off.
            got = (fn.options(grad=False) if name in _RULED else fn)(*args)
        except RuleBroken:
            return f"uses {_RULED.get(name, 'what its rule forbids')}"
        except StudentError as exc:
            if exc.type == "NotImplementedError":
                return "is not implemented yet"
            if isinstance(exc, NotDefined):
                return "is missing"
            return f"raises {exc.type}"
        if not _agrees(name, got, want):
            return "gives wrong results"
    return ""


def _earlier_hint(ctx, name: str) -> str:
    """"<name> calls your <earlier>, which ...: fix it first" for each wrong earlier answer."""
    hints = []
    for earlier in CALLS.get(name, ()):
        problem = _earlier_problem(ctx, earlier)
        if problem:
            hints.append(f"{name} is meant to call your {earlier}, which {problem} (see its own "
                         f"tests): fix {earlier} first")
    return "; ".join(hints)


def _innermost(exc: StudentError, names: tuple[str, ...]) -> str:
    """The innermost of ``names`` on the traceback of the student's exception, or ""."""
    frames = [f for f in re.findall(r", in (\w+)\s*\n", exc.traceback or "") if f in names]
    return frames[-1] if frames else ""


def blames_earlier(name: str) -> Callable:
    """Wrap a hidden test of ``name`` so that its failure names a wrong earlier answer.

    A wrong value gets the hint appended (same partial credit); an exception raised inside
    an earlier answer, or a rule broken there, says which answer raised or broke it.
    """
    def wrap(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        @functools.wraps(fn)
        def run(ctx) -> None:
            try:
                fn(ctx)
            except Fail as f:
                hint = _earlier_hint(ctx, name)
                if not hint:
                    raise
                raise Fail(f"{f.message}; {hint}", f.fraction) from None
            except RuleBroken as exc:
                for earlier, rule in _RULED.items():
                    if earlier in _below(name) and _earlier_problem(ctx, earlier) == f"uses {rule}":
                        raise RuleBroken(f"{exc}; {name} calls your {earlier}, which uses {rule} "
                                         f"itself: fix {earlier} first") from None
                raise
            except StudentError as exc:
                inner = _innermost(exc, (name, *_below(name)))
                if inner not in _below(name):
                    raise
                raise Fail(f"{name} stopped inside your {inner}, which raised {exc.type}"
                           + (f": {exc.message[:150]}" if exc.message else "")
                           + f"; fix {inner} first (see its own tests)") from None
        return run
    return wrap
