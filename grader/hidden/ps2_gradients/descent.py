"""gradient_descent and fit_with_autograd: whole runs, checked against the lecture's numbers.

The checks themselves are in ``runs.py``; here are the tests, their points and messages.
"""

from __future__ import annotations

from .. import static
from ..api import randint
from ..framework import Fail, Registry, by_hand
from ._common import (
    F32,
    F64,
    X_EXAM,
    X_LINE,
    Y_EXAM,
    Y_LINE,
    _fit_case,
    _with_autograd_off,
    blames_earlier,
)
from .runs import (
    _fit_types,
    _lecture_fit_checks,
    _random_fit_cases,
    _random_fit_checks,
)

registry = Registry()
TESTS = registry.tests
test = registry.test


@test("gradient_descent", 1, "gradient_descent: the lecture's one-variable and exam-score numbers")
@blames_earlier("gradient_descent")
def gradient_descent_lecture(ctx) -> None:
    _lecture_fit_checks(ctx, ctx.student.gradient_descent, "gradient_descent")


@test("gradient_descent", 1, "gradient_descent: more runs on the lecture's data sets")
@blames_earlier("gradient_descent")
def gradient_descent_lecture_more(ctx) -> None:
    # Other learning rates and step counts on the lecture's data, float64 copies too.
    ref = ctx.ref.gradient_descent
    cases = [(X_LINE, Y_LINE, 0.1, 7), (X_LINE.double(), Y_LINE.double(), 0.05, 12),
             (X_EXAM, Y_EXAM, 2e-5, 4), (X_EXAM.double(), Y_EXAM.double(), 1e-5, 9)]
    _random_fit_checks(ctx, ctx.student.gradient_descent, "gradient_descent", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s),
                       what="runs on the lecture's data with other learning rates and step counts")


@test("gradient_descent", 1, "gradient_descent: random data, float32 and float64")
@blames_earlier("gradient_descent")
def gradient_descent_random(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = _random_fit_cases(g, (F32, F32, F32, F64, F64))
    _random_fit_checks(ctx, ctx.student.gradient_descent, "gradient_descent", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s))


@test("gradient_descent", 0.5, "gradient_descent: types, dtype, and steps = 0")
@blames_earlier("gradient_descent")
def gradient_descent_types(ctx) -> None:
    _fit_types(ctx, ctx.student.gradient_descent, "gradient_descent")


@test("gradient_descent", 0.75, "gradient_descent: works with autograd switched off")
@blames_earlier("gradient_descent")
def gradient_descent_no_grad(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = _random_fit_cases(g, (F64, F32))
    _with_autograd_off(
        lambda: _random_fit_checks(ctx, ctx.student.gradient_descent.options(grad=False),
                                   "gradient_descent", cases,
                                   want_fn=lambda X, y, lr, s: ref(X, y, lr, s)),
        "gradient_descent fails when autograd is switched off (torch.no_grad()): update W and "
        "b with the gradients from your mse_gradients, and let neither function use "
        "requires_grad or .backward()")


@test("gradient_descent", 0.75, "gradient_descent: hand-written updates, no autograd (source check)",
      kind="static")
@blames_earlier("gradient_descent")
def gradient_descent_static(ctx) -> None:
    by_hand(ctx, static.AUTOGRAD,
            "gradient_descent must update W and b with your mse_gradients, without autograd",
            missing="gradient_descent is missing")


# ---------------------------------------------------------------- fit_with_autograd


@test("fit_with_autograd", 1, "fit_with_autograd: the lecture's numbers")
@blames_earlier("fit_with_autograd")
def fit_with_autograd_lecture(ctx) -> None:
    _lecture_fit_checks(ctx, ctx.student.fit_with_autograd, "fit_with_autograd")


@test("fit_with_autograd", 1.5, "fit_with_autograd: agrees with gradient_descent on random data")
@blames_earlier("fit_with_autograd")
def fit_with_autograd_random(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = _random_fit_cases(g, (F32, F32, F32, F64))
    _random_fit_checks(ctx, ctx.student.fit_with_autograd, "fit_with_autograd", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s))


@test("fit_with_autograd", 0.5, "fit_with_autograd: one sample, one feature, float64")
@blames_earlier("fit_with_autograd")
def fit_with_autograd_edges(ctx) -> None:
    g = ctx.generator()
    ref = ctx.ref.gradient_descent
    cases = []
    for n, d, dtype in ((1, 3, F64), (6, 1, F64), (1, 1, F32)):
        X, y = _fit_case(g, n, d, dtype)
        cases.append((X, y, 0.05, randint(g, 3, 15)))
    _random_fit_checks(ctx, ctx.student.fit_with_autograd, "fit_with_autograd", cases,
                       want_fn=lambda X, y, lr, s: ref(X, y, lr, s),
                       what="runs with one sample, one feature, or float64 data")


@test("fit_with_autograd", 0.5, "fit_with_autograd: types, dtype, and steps = 0")
@blames_earlier("fit_with_autograd")
def fit_with_autograd_types(ctx) -> None:
    _fit_types(ctx, ctx.student.fit_with_autograd, "fit_with_autograd")


@test("fit_with_autograd", 0.5, "fit_with_autograd: uses autograd and torch.optim.SGD (source check)",
      kind="static")
def fit_with_autograd_static(ctx) -> None:
    missing = [what for key, what in (("backward", "cost.backward()"), ("SGD", "torch.optim.SGD"))
               if not static.forbidden(ctx.sources(), {key: what}, "fit_with_autograd")]
    if missing:
        raise Fail("fit_with_autograd should let autograd and the optimizer do the work, but it "
                   "does not use " + " or ".join(missing))
