"""How hidden tests are written: a decorator, a context, and checks with student-safe messages.

A hidden test is a function ``(ctx) -> None`` registered with ``@registry.test(...)``. It
calls the student's code through ``ctx.student`` (proxies into the worker) and the
reference through ``ctx.ref``; it fails by raising ``Fail`` (optionally with partial
credit). Messages say what went wrong in the student's terms, never the hidden inputs or
the expected values.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..faults import StudentError
from . import static


class Fail(Exception):
    """The student's answer is wrong; ``fraction`` of the points are still earned."""

    def __init__(self, message: str, fraction: float = 0.0) -> None:
        super().__init__(message)
        self.message = message
        self.fraction = max(0.0, min(1.0, fraction))


@dataclass(frozen=True)
class HiddenTest:
    name: str
    grade_id: str
    points: float
    fn: Callable[[Any], None]
    kind: str = "hidden"          # "hidden" (behaviour) or "static" (source rules)
    timeout_s: float | None = None


class Registry:
    def __init__(self) -> None:
        self.tests: list[HiddenTest] = []

    def test(self, grade_id: str, points: float, name: str, *, kind: str = "hidden",
             timeout_s: float | None = None) -> Callable:
        def register(fn: Callable) -> Callable:
            self.tests.append(HiddenTest(name, grade_id, points, fn, kind, timeout_s))
            return fn

        return register


def seed_for(name: str, base: int = 20261126) -> int:
    """A stable seed per test, so that grading twice gives the same inputs."""
    return (zlib.crc32(name.encode()) ^ base) & 0x7FFFFFFF


# ---------------------------------------------------------------------- checks


def describe_value(value: Any) -> str:
    """What a value is, in a student's words, without its contents.

    >>> describe_value(torch.zeros(2, 3)), describe_value([1, 2])
    ('a tensor of shape (2, 3) and dtype torch.float32', 'a list')
    """
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape} and dtype {value.dtype}"
    if type(value).__name__ == "RemoteObject":
        return f"an object of type {value._type_name}"
    return f"a {type(value).__name__}"


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """Accept a tensor; anything else fails with what it was instead.

    >>> as_tensor(torch.ones(1), "x")
    tensor([1.])
    >>> as_tensor(3, "mse_cost's result")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: mse_cost's result should be a torch tensor, but it is a int
    """
    if isinstance(value, torch.Tensor):
        return value
    raise Fail(f"{what} should be a torch tensor, but it is {describe_value(value)}")


def check_shape(value: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    """
    >>> check_shape(torch.zeros(2, 3), (3, 2), "dW")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: dW has shape (2, 3), expected (3, 2)
    """
    if tuple(value.shape) != tuple(shape):
        raise Fail(f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}")


def check_finite(value: torch.Tensor, what: str) -> None:
    """
    >>> check_finite(torch.tensor([1.0, float("nan")]), "the loss")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: the loss contains NaN or infinite values
    """
    if value.is_floating_point() and not torch.isfinite(value).all():
        raise Fail(f"{what} contains NaN or infinite values")


def check_close(actual: Any, expected: torch.Tensor, what: str, *, atol: float = 1e-5,
                rtol: float = 1e-4, dtype: torch.dtype | None = None,
                fraction_if_close: float = 0.0, loose: float | None = None) -> None:
    """Compare a student's tensor with the reference, explaining without revealing values.

    Shape, then dtype (when asked), then NaN, then values: the first thing that is wrong is
    what the message names. ``loose`` turns "wrong" into "close" (``fraction_if_close`` of
    the points) when the values agree to that tolerance.

    >>> check_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), "y")
    >>> check_close(torch.tensor([1.0, 2.5]), torch.tensor([1.0, 2.0]), "y")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: y is wrong in 1 of 2 entries (largest error 0.5)
    >>> try:
    ...     check_close(torch.tensor([1.001]), torch.tensor([1.0]), "y", loose=1e-2, fraction_if_close=0.5)
    ... except Fail as f:
    ...     print(f.message, f.fraction)
    y is wrong in 1 of 1 entries (largest error 0.001); close, so check precision or the order of operations 0.5
    """
    actual = as_tensor(actual, what)
    check_shape(actual, tuple(expected.shape), what)
    if dtype is not None and actual.dtype != dtype:
        raise Fail(f"{what} has dtype {actual.dtype}, expected {dtype}")
    check_finite(actual, what)
    a = actual.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    bad = ~torch.isclose(a, e, rtol=rtol, atol=atol)
    if bool(bad.any()):
        n_bad, n = int(bad.sum()), bad.numel()
        err = float((a - e).abs().max())
        msg = f"{what} is wrong in {n_bad} of {n} entries (largest error {err:.3g})"
        if loose is not None and torch.allclose(a, e, rtol=loose, atol=loose):
            raise Fail(msg + "; close, so check precision or the order of operations",
                       fraction_if_close)
        raise Fail(msg)


def check_scalar(actual: Any, expected: float, what: str, *, tol: float = 1e-5) -> float:
    """A single number (a Python or NumPy number, or a one-element tensor) near ``expected``.

    >>> check_scalar(torch.tensor(0.5), 0.5, "accuracy")
    0.5
    >>> check_scalar("0.5", 0.5, "accuracy")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: accuracy should be a number, but it is a str
    >>> check_scalar(50.0, 0.5, "accuracy")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: accuracy is off by 49.5
    """
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            raise Fail(f"{what} should be a single number, but it has shape {tuple(actual.shape)}")
        actual = actual.item()
    if isinstance(actual, (np.generic,)):
        actual = actual.item()
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        raise Fail(f"{what} should be a number, but it is {describe_value(actual)}")
    if not math.isfinite(actual):
        raise Fail(f"{what} is NaN or infinite")
    if abs(actual - expected) > tol * max(1.0, abs(expected)):
        raise Fail(f"{what} is off by {abs(actual - expected):.3g}")
    return float(actual)


def check_type(value: Any, types: tuple[type, ...], what: str) -> None:
    """``bool`` is not an ``int`` here, whatever Python says.

    >>> check_type(True, (int,), "the rank")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: the rank should be a int, but it is a bool
    """
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        names = " or ".join(t.__name__ for t in types)
        raise Fail(f"{what} should be a {names}, but it is {describe_value(value)}")


def unpack(value: Any, n: int, what: str) -> tuple:
    """
    >>> unpack([1, 2], 2, "mse_gradients")
    (1, 2)
    >>> unpack((1, 2, 3), 2, "mse_gradients")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: mse_gradients should return a tuple of 2 values, but returned a tuple of length 3
    """
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise Fail(f"{what} should return a tuple of {n} values, but returned {describe_value(value)}"
                   + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""))
    return tuple(value)


def score_fraction(passed: int, total: int, message: str) -> None:
    """Fail with partial credit proportional to the sub-cases that passed.

    Only ``{passed}`` and ``{total}`` are filled in: hints appended to a message quote
    student values (a dict, a set), and their braces must come through as they are.

    >>> try:
    ...     score_fraction(3, 4, "{passed} of {total} cases right; got {'a': 1}")
    ... except Fail as f:
    ...     print(f.message, f.fraction)
    3 of 4 cases right; got {'a': 1} 0.75
    """
    if passed < total:
        text = message.replace("{passed}", str(passed)).replace("{total}", str(total))
        raise Fail(text, passed / total)


def by_hand(ctx, banned: dict[str, str], rule: str, *, missing: str | None = None,
            function: str | None = None) -> None:
    """A static test's whole body: fail when the function under test uses a banned call.

    What counts is what ``function`` (default: the test's grade_id) runs: what the worker's
    traps caught while the behaviour tests called it (``Session.rule_breaches``), and the
    names its code calls across every student cell (``program.Program``). Code built at run
    time anywhere in the notebook fails the rule too: no reading can tell what it calls. ``rule`` says what the answer must
    do instead; the failure names each use and its line. ``missing`` is the message for an
    empty answer cell, where one deserves its own words.
    """
    if missing is not None and not ctx.source().strip():
        raise Fail(missing)
    function = function or ctx.test.grade_id
    caught = ctx.worker.rule_breaches.get(function)
    if caught:   # the worker's traps saw it while the behaviour tests ran (sandbox.traps)
        raise Fail(f"{rule}, but {caught[0]}")
    sources = ctx.sources()
    generated = static.dynamic(sources)
    if generated:
        raise Fail(f"{rule}; the grader cannot check that, because the notebook builds code or "
                   f"looks names up at run time ({static.summary(generated)}): write the calls "
                   "out plainly in graded cells")
    found = static.forbidden(sources, banned, function)
    if found:
        raise Fail(f"{rule}, but it uses {static.summary(found)}")


def _not_a_value_error(call) -> str | None:
    """None when ``call()`` raises ValueError; otherwise what it did instead, in words."""
    try:
        result = call()
    except ValueError:
        return None
    except StudentError as exc:
        return f"it raised {exc.type} instead"
    return f"it returned {describe_value(result)} instead"


def value_errors(cases: list[tuple[str, object]], expected: str) -> None:
    """Each case is (what the bad input is, in words; a call): all must raise ValueError.

    Partial credit per case; the message says what each call did instead.

    >>> def student(n):
    ...     if n < 0:
    ...         raise ValueError
    ...     return n
    >>> value_errors([("a negative n", lambda: student(-1))], "f should raise ValueError")
    >>> value_errors([("a negative n", lambda: student(-1)), ("n = 0", lambda: student(0))],
    ...              "f should raise ValueError")
    Traceback (most recent call last):
    ...
    grader.hidden.framework.Fail: f should raise ValueError; it did not for n = 0 (it returned a int instead)
    """
    missed = [(what, instead) for what, call in cases
              if (instead := _not_a_value_error(call)) is not None]
    if not missed:
        return
    if len({instead for _, instead in missed}) == 1:   # one reason: say it once
        detail = ", ".join(what for what, _ in missed) + f" ({missed[0][1]})"
    else:
        detail = "; ".join(f"{what} ({instead})" for what, instead in missed)
    raise Fail(f"{expected}; it did not for {detail}", (len(cases) - len(missed)) / len(cases))
