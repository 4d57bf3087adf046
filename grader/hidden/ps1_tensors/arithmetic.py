"""ps1 parts 4-6: pairwise distances by broadcasting, the two products, reductions."""

from __future__ import annotations

import torch

from .. import static
from ..framework import (
    Fail,
    Registry,
    by_hand,
    check_close,
    unpack,
)
from ._common import _random_shape

registry = Registry()
TESTS = registry.tests
test = registry.test



# pairwise_sq_dists must build the pairs itself: no library function that measures distances.
# (The worker's "cdist" trap sees cdist and pdist however they are reached; pairwise_distance
# decomposes into plain arithmetic before any trap could see it, so only the text catches it.)
LIBRARY_DISTANCE = {
    "cdist": "torch.cdist",
    "pdist": "torch.pdist",
    "pairwise_distance": "F.pairwise_distance",
    "PairwiseDistance": "nn.PairwiseDistance",
}



# ---------------------------------------------------------------- pairwise_sq_dists


def _pairwise_case(ctx, n, m, d, dtype, g, what) -> None:
    X = torch.randn(n, d, generator=g, dtype=torch.float64).to(dtype)
    Y = torch.randn(m, d, generator=g, dtype=torch.float64).to(dtype)
    want = ctx.ref.pairwise_sq_dists(X.double(), Y.double())
    got = ctx.student.pairwise_sq_dists(X, Y)
    check_close(got, want.to(dtype), what, atol=1e-4, rtol=1e-4, dtype=dtype)


@test("pairwise_sq_dists", 1.5, "pairwise_sq_dists: random sizes")
def pairwise_random(ctx) -> None:
    g = ctx.generator()
    for i in range(4):
        n, m, d = _random_shape(g, 3, 9)
        _pairwise_case(ctx, n, m, d, torch.float32, g, f"the distances (case {i + 1})")


@test("pairwise_sq_dists", 0.5, "pairwise_sq_dists: one row, one feature, float64")
def pairwise_edges(ctx) -> None:
    g = ctx.generator()
    _pairwise_case(ctx, 1, 5, 3, torch.float32, g, "the distances for a single row of X")
    _pairwise_case(ctx, 4, 1, 1, torch.float32, g, "the distances for one feature")
    _pairwise_case(ctx, 3, 4, 2, torch.float64, g, "the distances for float64 inputs")


@test("pairwise_sq_dists", 1, "pairwise_sq_dists: broadcasting, no Python loops", kind="static")
def pairwise_no_loops(ctx) -> None:
    if not ctx.source().strip():
        raise Fail("pairwise_sq_dists is missing")
    found = static.loops(ctx.sources(), "pairwise_sq_dists")
    if found:
        raise Fail(f"pairwise_sq_dists should use broadcasting only, but it contains {static.summary(found)}")


@test("pairwise_sq_dists", 1, "pairwise_sq_dists: no torch.cdist or other library distance",
      kind="static")
def pairwise_no_cdist(ctx) -> None:
    by_hand(ctx, LIBRARY_DISTANCE,
            "pairwise_sq_dists should build the differences itself, without torch.cdist, "
            "torch.pdist or F.pairwise_distance", missing="pairwise_sq_dists is missing")


# ---------------------------------------------------------------- mul_and_matmul


@test("mul_and_matmul", 2, "mul_and_matmul: element-wise and matrix products")
def mul_and_matmul_values(ctx) -> None:
    g = ctx.generator()
    ok_mul = ok_mm = 0
    cases = []
    for _ in range(3):  # square m1 with (b, b) and (b, 1), as in the lecture's 2x2 / 2x1
        b = int(torch.randint(2, 6, (1,), generator=g))
        cases.append((torch.randn(b, b, generator=g), torch.randn(b, b, generator=g)))
        cases.append((torch.randn(b, b, generator=g), torch.randn(b, 1, generator=g)))
    for m1, m2 in cases:
        got = unpack(ctx.student.mul_and_matmul(m1, m2), 2, "mul_and_matmul")
        want_mul, want_mm = m1 * m2, m1 @ m2
        if isinstance(got[0], torch.Tensor) and got[0].shape == want_mul.shape \
                and torch.allclose(got[0], want_mul, atol=1e-5):
            ok_mul += 1
        if isinstance(got[1], torch.Tensor) and got[1].shape == want_mm.shape \
                and torch.allclose(got[1], want_mm, atol=1e-4):
            ok_mm += 1
    n = len(cases)
    if ok_mul < n or ok_mm < n:
        parts = []
        if ok_mul < n:
            parts.append(f"the element-wise product (*) is wrong in {n - ok_mul} of {n} cases")
        if ok_mm < n:
            parts.append(f"the matrix product (@) is wrong in {n - ok_mm} of {n} cases")
        raise Fail("; ".join(parts) + " — `*` multiplies matching entries (with broadcasting), "
                   "`@` sums over the shared dimension", (ok_mul + ok_mm) / (2 * n))


# ---------------------------------------------------------------- reduce_along


def _reduce_case(ctx, t: torch.Tensor, dim: int, label: str) -> tuple[int, list[str]]:
    got = unpack(ctx.student.reduce_along(t, dim), 4, "reduce_along")
    mean_src = t if t.is_floating_point() else t.float()
    want = (mean_src.mean(dim=dim), t.sum(dim=dim), t.max(dim=dim).values)
    names = ("mean", "sum", "max_values", "argmax")
    ok, wrong = 0, []
    for name, g_val, w_val in zip(names[:3], got[:3], want, strict=True):
        if isinstance(g_val, torch.Tensor) and g_val.shape == w_val.shape \
                and g_val.dtype == w_val.dtype \
                and torch.allclose(g_val.double(), w_val.double(), atol=1e-4, rtol=1e-5):
            ok += 1
        else:
            wrong.append(name)
    idx = got[3]
    if isinstance(idx, torch.Tensor) and idx.dtype == torch.int64 and idx.shape == want[2].shape \
            and torch.equal(t.gather(dim, idx.unsqueeze(dim)).squeeze(dim), want[2]):
        ok += 1
    else:
        wrong.append("argmax")
    return ok, [f"{w} ({label})" for w in wrong]


@test("reduce_along", 2, "reduce_along: float tensors along every dimension")
def reduce_float(ctx) -> None:
    g = ctx.generator()
    ok = total = 0
    wrong: list[str] = []
    for rank in (1, 2, 3):
        t = torch.randn(_random_shape(g, rank, 6), generator=g)
        for dim in range(rank):
            k, w = _reduce_case(ctx, t, dim, f"rank {rank}, dim {dim}")
            ok, total, wrong = ok + k, total + 4, wrong + w
    if wrong:
        raise Fail("reduce_along is wrong for: " + ", ".join(wrong[:4])
                   + (" ..." if len(wrong) > 4 else ""), ok / total)


@test("reduce_along", 1.5, "reduce_along: integer tensors (mean in float32)")
def reduce_int(ctx) -> None:
    g = ctx.generator()
    t = torch.randint(-20, 20, (4, 5), generator=g)
    ok, wrong = _reduce_case(ctx, t, 1, "int64 input")
    if wrong:
        raise Fail("for an integer tensor, " + ", ".join(wrong)
                   + " is wrong (the mean must be float32; sum and max keep the integer dtype)",
                   ok / 4)


@test("reduce_along", 0.5, "reduce_along: negative dim")
def reduce_negative(ctx) -> None:
    g = ctx.generator()
    t = torch.randn(3, 4, 2, generator=g)
    ok, wrong = _reduce_case(ctx, t, -2, "dim=-2")
    if wrong:
        raise Fail("with a negative dim, " + ", ".join(wrong) + " is wrong", ok / 4)
