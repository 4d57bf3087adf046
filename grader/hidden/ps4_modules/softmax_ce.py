"""softmax and cross_entropy by hand: values, stability for huge logits, dtype, the rule.

Both run under the ``softmax`` rule (``sandbox.traps``): a library softmax, log-softmax,
log-sum-exp, NLL or cross-entropy reached in any way while they run breaks the call, and the
static test of each then fails on the worker's word or on the names the code uses.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..api import randint
from ..framework import Fail, Registry, by_hand, describe_value, score_fraction

registry = Registry()
TESTS = registry.tests
test = registry.test


def _as_float64(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().to(torch.float64)
    return None


def _close(got: Any, want: torch.Tensor, *, atol: float, rtol: float,
           dtype: torch.dtype | None = None) -> bool:
    g = _as_float64(got)
    if g is None or tuple(g.shape) != tuple(want.shape):
        return False
    if dtype is not None and got.dtype != dtype:
        return False
    return bool(torch.isfinite(g).all()) and torch.allclose(g, want.double(), atol=atol, rtol=rtol)


def _true_softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return torch.softmax(z.double(), dim=dim)


def _true_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.double(), labels.long())


# ---------------------------------------------------------------- softmax


def _softmax_hint(z: torch.Tensor, got: Any) -> str:
    """Why one softmax result is wrong, in the student's terms."""
    if not isinstance(got, torch.Tensor):
        return f"softmax should return a tensor, but it returned {describe_value(got)}"
    if tuple(got.shape) != tuple(z.shape):
        return (f"the result should have the shape of z, {tuple(z.shape)}, but it has "
                f"{tuple(got.shape)}")
    g = _as_float64(got)
    if got.dtype != z.dtype:
        return f"a {z.dtype} input should give a {z.dtype} result, not {got.dtype}"
    if g is None or not bool(torch.isfinite(g).all()):
        return "the result holds NaN or inf"
    for dim in range(z.dim() - 1):
        if _close(got, _true_softmax(z, dim), atol=1e-6, rtol=1e-5):
            return (f"you normalised along dimension {dim}: the probabilities of a row run along "
                    "the LAST dimension (dim=-1)")
    e = torch.exp(z.double() - z.double().max())
    if _close(got, e / e.sum(), atol=1e-6, rtol=1e-5):
        return ("you divided by the sum over the whole tensor: normalise every row along the "
                "last dimension on its own (sum with dim=-1, keepdim=True)")
    sums = g.sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        return "the rows do not sum to 1 along the last dimension"
    return "compute exp of every logit and divide by the sum of its row's exps"


@test("softmax", 1.25, "softmax: random logits of ranks 1 to 4, along the last dimension")
def softmax_random(ctx) -> None:
    g = ctx.generator()
    ok, hint = 0, ""
    ranks = (1, 2, 2, 3, 4, 2)
    for rank in ranks:
        shape = [randint(g, 2, 5) for _ in range(rank - 1)] + [randint(g, 2, 9)]
        if rank == 2:   # rows and columns of different lengths expose the wrong dimension
            while shape[0] == shape[1]:
                shape[0] = randint(g, 2, 9)
        z = torch.randn(*shape, generator=g) * 3
        got = ctx.student.softmax(z)
        if _close(got, _true_softmax(z), atol=1e-6, rtol=1e-5, dtype=torch.float32):
            ok += 1
        elif not hint:
            hint = _softmax_hint(z, got)
    score_fraction(ok, len(ranks), "softmax is right for {passed} of {total} random tensors of "
                                   "logits (ranks 1 to 4): " + hint)


def _huge_logits(g: torch.Generator) -> torch.Tensor:
    rows = torch.tensor([[1000.0, 0.0, -1000.0, 5.0], [-1000.0, -1000.0, -1000.0, -1000.0],
                         [90.0, 89.0, 100.0, -300.0], [500.0, 500.0, -500.0, 499.0]])
    rows = rows[:, torch.randperm(4, generator=g)]
    return torch.cat([rows, torch.randn(3, 4, generator=g) * 400])


@test("softmax", 0.75, "softmax: logits of size 1000 give finite, right probabilities")
def softmax_huge(ctx) -> None:
    g = ctx.generator()
    z = _huge_logits(g)
    got = ctx.student.softmax(z)
    if _close(got, _true_softmax(z), atol=1e-6, rtol=1e-5):
        return
    g64 = _as_float64(got)
    if g64 is not None and tuple(g64.shape) == tuple(z.shape):
        bad_rows = int((~torch.isfinite(g64)).any(dim=1).sum())
        if bad_rows:
            raise Fail(f"softmax gives NaN or inf in {bad_rows} of {len(z)} rows of large logits "
                       "(such as [1000, 0, -1000]): exp(1000) overflows to inf and inf / inf is "
                       "NaN; subtract each row's maximum before exp (it does not change the result)",
                       1 - bad_rows / len(z))
    raise Fail("softmax is wrong for large logits (such as [1000, 0, -1000]): "
               + _softmax_hint(z, got))


@test("softmax", 0.5, "softmax: keeps float64; the lecture's (0.7, 0.2, 0.1)")
def softmax_dtype_lecture(ctx) -> None:
    g = ctx.generator()
    problems: list[str] = []
    z64 = torch.randn(randint(g, 2, 9), generator=g, dtype=torch.float64) * 4   # one row
    got = ctx.student.softmax(z64)
    if not isinstance(got, torch.Tensor) or got.dtype != torch.float64:
        problems.append("a float64 input should give a float64 result (compute in z's dtype)")
    elif not _close(got, _true_softmax(z64), atol=1e-12, rtol=1e-10):
        problems.append("for a float64 input the result should be right to float64 precision "
                        "(do not convert to float32 on the way)")
    p = torch.tensor([0.7, 0.2, 0.1])
    c = float(torch.randint(-50, 50, (1,), generator=g))
    got = ctx.student.softmax(torch.log(p) + c)
    if not _close(got, p.double(), atol=1e-5, rtol=1e-5):
        problems.append("the logits log(0.7, 0.2, 0.1) + c should give the lecture's (0.7, 0.2, "
                        "0.1) for every constant c, and a 1-D input a 1-D result")
    if problems:
        raise Fail("; ".join(problems), 1 - len(problems) / 2)


_LIBRARY_SOFTMAX = {
    "softmax": "a library softmax", "Softmax": "nn.Softmax", "softmin": "a library softmin",
    "Softmin": "nn.Softmin", "gumbel_softmax": "F.gumbel_softmax",
    "log_softmax": "a library log_softmax", "LogSoftmax": "nn.LogSoftmax",
    "logsumexp": "a library logsumexp", "logcumsumexp": "a library logcumsumexp",
    "cross_entropy": "a library cross-entropy", "CrossEntropyLoss": "nn.CrossEntropyLoss",
    "nll_loss": "F.nll_loss", "NLLLoss": "nn.NLLLoss",
    "binary_cross_entropy": "a library binary cross-entropy",
    "binary_cross_entropy_with_logits": "a library binary cross-entropy",
    "scaled_dot_product_attention": "a library attention (a softmax inside)",
    "torch.distributions": "torch.distributions (a softmax inside)",
}


@test("softmax", 0.5, "softmax: written with torch.exp, no library softmax", kind="static")
def softmax_by_hand(ctx) -> None:
    # The student's own function is called softmax: a name the student defines never counts.
    by_hand(ctx, _LIBRARY_SOFTMAX, "softmax should be computed from its formula with torch.exp")


# ---------------------------------------------------------------- cross_entropy


def _value(got: Any, what: str) -> float:
    """The student's cost as a float (a one-number tensor or a Python number: the type is
    ``ce_shape_dtype``'s business); anything else fails with a hint."""
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            raise Fail(f"{what}: cross_entropy should return a 0-dim tensor (the mean over the "
                       f"batch), but it returned shape {tuple(got.shape)}: did you forget the "
                       "mean over the examples?")
        return float(got.detach().double().item())
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return float(got)
    raise Fail(f"{what}: cross_entropy should return a 0-dim tensor, but it returned "
               f"{describe_value(got)}")


def _ce_hint(value: float, want: float, n: int, logits: torch.Tensor, labels: torch.Tensor) -> str:
    def near(a: float, b: float) -> bool:
        return math.isfinite(a) and abs(a - b) <= 1e-4 * max(1.0, abs(b))

    if n > 1 and near(value, want * n):
        return ("that is the SUM over the examples: the cost of a batch is their mean "
                "(divide by N)")
    if near(value, -want):
        return "check the sign: the cost is MINUS the log-probability of the right class"
    if near(value, want / math.log(2)):
        return ("that is the cost in bits (log base 2, as on the lecture's slide): use the "
                "natural log, torch.log, like F.cross_entropy")
    if n > 1:
        wrong_dim = -torch.log(torch.softmax(logits.double(), dim=0))[torch.arange(n), labels].mean()
        if near(value, float(wrong_dim)):
            return ("you normalised over the examples (dim=0): the softmax of each example runs "
                    "over its classes (dim=1)")
    every_class = float(-torch.log_softmax(logits.double(), dim=1).mean())
    if near(value, every_class):
        return ("you averaged -log p over every class: take only each example's own class "
                "(labels[n] in row n)")
    return ("pick the log-probability of each example's own class (labels[n] in row n), take "
            "minus it, and average over the batch")


@test("cross_entropy", 1.5, "cross_entropy: random logits and labels, equal to F.cross_entropy")
def ce_random(ctx) -> None:
    g = ctx.generator()
    ok, total, hint = 0, 6, ""
    for i in range(total):
        n, k = (randint(g, 2, 16), randint(g, 2, 12)) if i else (1, randint(g, 2, 6))
        logits = torch.randn(n, k, generator=g) * 3
        labels = torch.randint(0, k, (n,), generator=g)
        want = float(_true_ce(logits, labels))
        value = _value(ctx.student.cross_entropy(logits, labels), "on random logits")
        if math.isfinite(value) and abs(value - want) <= 1e-5 + 1e-5 * abs(want):
            ok += 1
        elif not hint:
            hint = _ce_hint(value, want, n, logits, labels)
    score_fraction(ok, total, "cross_entropy equals F.cross_entropy for {passed} of {total} "
                              "random batches: " + hint)


@test("cross_entropy", 1.25, "cross_entropy: logits of size 1000 (the log-sum-exp trick)")
def ce_huge(ctx) -> None:
    g = ctx.generator()
    # (kind, logits, labels). "top": huge logits with the right class on top, where only an
    # unshifted exp fails (it overflows). "below": the right class far below the best, where
    # its softmax probability underflows to 0 and only a log of it fails. "mixed": both.
    z_top = torch.randn(5, 4, generator=g) * 50 + 900
    cases = [("top", z_top, z_top.argmax(dim=1)),
             ("below", torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 1000.0],
                                     [-500.0, 600.0, 20.0]]), torch.tensor([2, 0, 0]))]
    z = torch.randn(6, 7, generator=g) * 400
    cases.append(("mixed", z, torch.randint(0, 7, (6,), generator=g)))
    ok, broken, wrong = 0, set(), []
    for kind, logits, labels in cases:
        want = float(_true_ce(logits, labels))
        value = _value(ctx.student.cross_entropy(logits, labels), "for large logits")
        if math.isfinite(value) and abs(value - want) <= 1e-4 + 1e-5 * abs(want):
            ok += 1
        elif not math.isfinite(value):
            broken.add(kind)
        else:
            wrong.append(_ce_hint(value, want, len(logits), logits, labels))
    problems = []
    if "top" in broken:
        problems.append("NaN or inf where the right class has the largest logit: exp overflowed "
                        "(exp(1000) is inf in float32); shift every row by its maximum before exp")
    elif broken:
        problems.append("inf or NaN where the right class scores far below the best: a log saw a "
                        "probability that underflowed to exactly 0 (the log of a softmax); "
                        "simplify -log softmax(z)[y] on paper so that the only log left is the "
                        "log of a sum of exps of shifted logits (the log-sum-exp trick)")
    problems.extend(wrong[:1])
    score_fraction(ok, len(cases), "cross_entropy is right for {passed} of {total} batches of "
                                   "logits of size 1000: " + "; ".join(problems))


@test("cross_entropy", 0.5, "cross_entropy: a 0-dim tensor in the logits' dtype; -ln 0.7")
def ce_shape_dtype(ctx) -> None:
    g = ctx.generator()
    problems: list[str] = []
    c = float(torch.randint(-20, 20, (1,), generator=g))
    z = torch.log(torch.tensor([[0.7, 0.2, 0.1]])) + c
    got = ctx.student.cross_entropy(z, torch.tensor([0]))
    if not isinstance(got, torch.Tensor) or got.dim() != 0:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else describe_value(got)
        problems.append(f"cross_entropy should return a 0-dim tensor (got {shape}): take the "
                        ".mean() over the examples and do not call .item()")
    elif abs(float(got) - (-math.log(0.7))) > 1e-5:
        problems.append("for the lecture's probabilities (0.7, 0.2, 0.1) with class 0 right the "
                        "cost should be -ln 0.7 = 0.3567")
    k = randint(g, 2, 9)   # one example: this test is about the dtype, not the batch mean
    z64 = torch.randn(1, k, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, k, (1,), generator=g)
    got = ctx.student.cross_entropy(z64, labels)
    want = float(_true_ce(z64, labels))
    if not isinstance(got, torch.Tensor) or got.dtype != torch.float64:
        problems.append("float64 logits should give a float64 cost (compute in the logits' dtype)")
    elif got.numel() == 1 and abs(float(got) - want) > 1e-10 * max(1.0, abs(want)):
        problems.append("for float64 logits the cost should be right to float64 precision (do "
                        "not convert to float32 on the way)")
    if problems:
        raise Fail("; ".join(problems), 1 - len(problems) / 2)


@test("cross_entropy", 0.75, "cross_entropy: computed by hand, no library cross-entropy",
      kind="static")
def ce_by_hand(ctx) -> None:
    by_hand(ctx, _LIBRARY_SOFTMAX, "cross_entropy should be computed by hand (the log-sum-exp "
                                   "trick with torch.exp and torch.log)")
