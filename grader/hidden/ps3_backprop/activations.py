"""sigmoid and sigmoid_prime: element-wise, stable for large |z|, dtype-preserving."""

from __future__ import annotations

import torch

from ..api import randint
from ..framework import Fail, Registry, by_hand, describe_value, score_fraction
from ._common import _matches

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- sigmoid


def _elementwise_random(ctx, fn_name: str, ref_fn) -> tuple[int, int, list[torch.Tensor], list]:
    g = ctx.generator()
    ok, inputs, outputs = 0, [], []
    for rank in (0, 1, 2, 3, 2, 1):
        shape = tuple(randint(g, 1, 5) for _ in range(rank))
        z = torch.randn(shape, generator=g) * 4.0
        got = getattr(ctx.student, fn_name)(z)
        inputs.append(z)
        outputs.append(got)
        if _matches(got, ref_fn(z), atol=1e-6, rtol=1e-5, dtype=torch.float32):
            ok += 1
    return ok, len(inputs), inputs, outputs


def _shape_dtype_hint(inputs, outputs) -> str:
    for z, got in zip(inputs, outputs, strict=True):
        if not isinstance(got, torch.Tensor):
            return f" (it returned {describe_value(got)} instead of a tensor)"
        if tuple(got.shape) != tuple(z.shape):
            return " (the result must have the same shape as z)"
        if got.dtype != z.dtype:
            return f" (a float32 input should give a float32 result, not {got.dtype})"
    return ""


@test("sigmoid", 1, "sigmoid: random tensors of several shapes")
def sigmoid_random(ctx) -> None:
    ok, total, inputs, outputs = _elementwise_random(ctx, "sigmoid", ctx.ref.sigmoid)
    score_fraction(ok, total, "sigmoid is right for {passed} of {total} random tensors of rank 0 "
                              "to 3: compute 1 / (1 + exp(-z)) element-wise"
                   + _shape_dtype_hint(inputs, outputs))


def _extremes() -> torch.Tensor:
    return torch.tensor([-1000.0, -200.0, -100.0, -89.0, -50.0, -20.0, -2.0, 0.0,
                         2.0, 20.0, 50.0, 89.0, 100.0, 200.0, 1000.0])


def _extreme_cases(ctx, fn_name: str, ref_fn, what: str, limits: str) -> None:
    fn = getattr(ctx.student, fn_name)
    g = ctx.generator()
    problems: list[str] = []
    ok = 0
    z = _extremes()[torch.randperm(15, generator=g)]
    got = fn(z)
    if _matches(got, ref_fn(z), atol=1e-6, rtol=1e-5):
        ok += 1
    elif isinstance(got, torch.Tensor) and got.is_floating_point() \
            and not bool(torch.isfinite(got).all()):
        problems.append(f"{what} gives NaN or inf for large |z| (such as ±100 or ±1000); write it "
                        "so that exp can overflow to inf harmlessly, e.g. 1 / (1 + exp(-z))")
    else:
        problems.append(f"{what} is wrong for large |z| (it should approach {limits})")
    z64 = torch.randn(3, 4, generator=g, dtype=torch.float64) * 5.0
    got = fn(z64)
    if _matches(got, ref_fn(z64), atol=1e-10, rtol=1e-9, dtype=torch.float64):
        ok += 1
    else:
        problems.append(f"{what} should keep float64 inputs in float64 (and be right for them)")
    zi = torch.tensor([-3, 0, 1, 4])
    got = fn(zi)
    if _matches(got, ref_fn(zi.float()), atol=1e-6, rtol=1e-5) and got.is_floating_point():
        ok += 1
    else:
        problems.append(f"{what} should accept an integer tensor and return floats")
    if problems:
        raise Fail("; ".join(problems), ok / 3)


@test("sigmoid", 0.5, "sigmoid: large |z|, float64 and integer inputs")
def sigmoid_extremes(ctx) -> None:
    _extreme_cases(ctx, "sigmoid", ctx.ref.sigmoid, "sigmoid", "0 for z -> -inf and 1 for z -> inf")


_LIBRARY_SIGMOID = {"sigmoid": "a library sigmoid", "sigmoid_": "a library sigmoid",
                    "Sigmoid": "nn.Sigmoid", "expit": "expit (a library sigmoid)",
                    "logsigmoid": "a library log-sigmoid"}


@test("sigmoid", 0.5, "sigmoid: written with torch.exp, not a library sigmoid", kind="static")
def sigmoid_by_hand(ctx) -> None:
    # The student's own function is called sigmoid: a name the student defines never counts.
    by_hand(ctx, _LIBRARY_SIGMOID, "sigmoid should be computed from its formula with torch.exp")


# ---------------------------------------------------------------- sigmoid_prime


@test("sigmoid_prime", 1.25, "sigmoid_prime: random tensors of several shapes")
def sigmoid_prime_random(ctx) -> None:
    ok, total, inputs, outputs = _elementwise_random(ctx, "sigmoid_prime", ctx.ref.sigmoid_prime)
    if ok == total:
        return
    on_z = sum(_matches(got, z * (1 - z), atol=1e-5, rtol=1e-5)
               for z, got in zip(inputs, outputs, strict=True))
    if on_z == total:
        raise Fail("sigmoid_prime computes z * (1 - z): the formula σ(z)(1 − σ(z)) needs the "
                   "sigmoid of z first (s = sigmoid(z), then s * (1 - s)); sigmoid_prime "
                   "receives the sigmoid's input z, not its output", 0.2)
    score_fraction(ok, total, "sigmoid_prime is right for {passed} of {total} random tensors of "
                              "rank 0 to 3: it should be sigmoid(z) * (1 - sigmoid(z))"
                   + _shape_dtype_hint(inputs, outputs))


@test("sigmoid_prime", 0.75, "sigmoid_prime: large |z|, float64 and integer inputs")
def sigmoid_prime_extremes(ctx) -> None:
    _extreme_cases(ctx, "sigmoid_prime", ctx.ref.sigmoid_prime, "sigmoid_prime",
                   "0 on both sides")
