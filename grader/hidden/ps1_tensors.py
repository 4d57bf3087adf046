"""Hidden tests for ps1_tensors: shapes, broadcasting, reductions and views."""

from __future__ import annotations

import numpy as np
import torch

from . import static
from .api import StudentError
from .framework import (
    Fail,
    Registry,
    as_tensor,
    by_hand,
    check_close,
    check_shape,
    describe_value,
    score_fraction,
    unpack,
)

RULES = {"broadcast_shape": ("broadcast",), "pairwise_sq_dists": ("cdist",)}  # enforced while they run
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


def _random_shape(g: torch.Generator, rank: int, hi: int = 5) -> tuple[int, ...]:
    return tuple(int(v) for v in torch.randint(1, hi + 1, (rank,), generator=g))


def _not_a_value_error(call) -> str | None:
    """None when ``call()`` raises ValueError; otherwise what it did instead, in words."""
    try:
        result = call()
    except ValueError:
        return None
    except StudentError as exc:
        return f"it raised {exc.type} instead"
    return f"it returned {describe_value(result)} instead"


def _value_errors(cases: list[tuple[str, object]], expected: str) -> None:
    """Each case is (what the bad input is, in words; a call): all must raise ValueError."""
    missed = [(what, instead) for what, call in cases
              if (instead := _not_a_value_error(call)) is not None]
    if not missed:
        return
    if len({instead for _, instead in missed}) == 1:   # one reason: say it once
        detail = ", ".join(what for what, _ in missed) + f" ({missed[0][1]})"
    else:
        detail = "; ".join(f"{what} ({instead})" for what, instead in missed)
    raise Fail(f"{expected}; it did not for {detail}", (len(cases) - len(missed)) / len(cases))


# ---------------------------------------------------------------- rank_and_shape


@test("rank_and_shape", 1.5, "rank_and_shape: tensors and arrays of rank 0 to 5")
def rank_and_shape_values(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 0
    for rank in range(6):
        shape = _random_shape(g, rank)
        for value in (torch.zeros(shape), np.zeros(shape, dtype=np.float32)):
            total += 1
            got = ctx.student.rank_and_shape(value)
            if isinstance(got, (tuple, list)) and len(got) == 2 and got[0] == rank \
                    and tuple(got[1]) == shape:
                ok += 1
    score_fraction(ok, total, "rank_and_shape is right for {passed} of {total} inputs "
                              "(tensors and NumPy arrays of rank 0 to 5)")


@test("rank_and_shape", 0.5, "rank_and_shape: returns a Python int and a tuple of ints")
def rank_and_shape_types(ctx) -> None:
    rank, shape = unpack(ctx.student.rank_and_shape(torch.zeros(2, 3, 4)), 2, "rank_and_shape")
    if rank != 3 or tuple(shape) != (2, 3, 4):
        raise Fail("rank_and_shape gives the wrong rank or shape for a 2x3x4 tensor")
    if type(rank) is not int:
        raise Fail(f"the rank should be a Python int, but it is {describe_value(rank)}")
    if type(shape) is not tuple or not all(type(s) is int for s in shape):
        raise Fail(f"the shape should be a tuple of Python ints, but it is {describe_value(shape)}")


# ---------------------------------------------------------------- take_columns


@test("take_columns", 1.5, "take_columns: random tensors, positive and negative bounds")
def take_columns_values(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 12
    for _ in range(total):
        rows, cols = _random_shape(g, 2, 7)
        t = torch.randn(rows, cols, generator=g)
        start = int(torch.randint(-cols, cols, (1,), generator=g))
        stop = int(torch.randint(-cols, cols + 1, (1,), generator=g))
        got = ctx.student.take_columns(t, start, stop)
        want = t[:, start:stop]
        if isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got, want):
            ok += 1
    score_fraction(ok, total, "take_columns is right for {passed} of {total} random "
                              "(start, stop) pairs; remember that stop is exclusive and "
                              "negative indices count from the end")


@test("take_columns", 0.5, "take_columns: works on NumPy arrays too")
def take_columns_numpy(ctx) -> None:
    a = np.arange(20, dtype=np.int64).reshape(4, 5)
    got = ctx.student.take_columns(a, 1, -1)
    if not isinstance(got, np.ndarray):
        raise Fail(f"for a NumPy array, take_columns should return an array, not {describe_value(got)}")
    if got.shape != (4, 3) or not np.array_equal(got, a[:, 1:-1]):
        raise Fail(f"take_columns on a NumPy array returned shape {got.shape} or wrong values")


# ---------------------------------------------------------------- broadcast_shape

_COMPATIBLE = [((8, 1, 6, 1), (7, 1, 5)), ((5, 4), (1,)), ((), (3, 1)), ((15, 3, 5), (15, 1, 5)),
               ((3, 1), (1, 4)), ((1,), ()), ((2, 1, 3), (4, 1)), ((0, 1), (1, 7))]


@test("broadcast_shape", 2, "broadcast_shape: compatible shapes of different ranks")
def broadcast_compatible(ctx) -> None:
    g = ctx.generator()
    cases = list(_COMPATIBLE)
    for _ in range(8):
        a = list(_random_shape(g, int(torch.randint(0, 5, (1,), generator=g))))
        b = [1 if torch.rand(1, generator=g) < 0.4 else s for s in a[-int(torch.randint(0, len(a) + 1, (1,), generator=g)):]] if a else []
        a = [1 if torch.rand(1, generator=g) < 0.3 else s for s in a]
        cases.append((tuple(a), tuple(b)) if torch.rand(1, generator=g) < 0.5 else (tuple(b), tuple(a)))
    ok = 0
    for a, b in cases:
        want = torch.broadcast_shapes(a, b)
        try:
            got = ctx.student.broadcast_shape(a, b)
        except ValueError:
            continue
        if isinstance(got, (tuple, list)) and tuple(got) == tuple(want):
            ok += 1
    score_fraction(ok, len(cases), "broadcast_shape is right for {passed} of {total} pairs of "
                                   "compatible shapes (align at the right, 1 stretches)")


@test("broadcast_shape", 1, "broadcast_shape: incompatible shapes raise ValueError")
def broadcast_incompatible(ctx) -> None:
    pairs = [((3,), (4,)), ((2, 1), (8, 4, 3)), ((5, 2), (2, 5)), ((1, 3), (3, 2, 2))]
    words = ["two vectors of different lengths", "a pair whose shorter shape clashes after padding",
             "a pair of transposed shapes", "a pair that clashes in its last dimension"]
    _value_errors([(w, lambda a=a, b=b: ctx.student.broadcast_shape(a, b))
                   for w, (a, b) in zip(words, pairs, strict=True)],
                  "broadcast_shape should raise ValueError when two aligned sizes differ and "
                  "neither of them is 1")


@test("broadcast_shape", 1, "broadcast_shape: written by hand, not with a library helper",
      kind="static")
def broadcast_by_hand(ctx) -> None:
    by_hand(ctx, static.LIBRARY_BROADCAST, "broadcast_shape should apply the rules itself")


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


# ---------------------------------------------------------------- to_batches


@test("to_batches", 1.5, "to_batches: shapes and values")
def to_batches_values(ctx) -> None:
    g = ctx.generator()
    for _ in range(3):
        b, nb, length, d = _random_shape(g, 4, 5)
        data = torch.randn(b * nb, length, d, generator=g)
        got = as_tensor(ctx.student.to_batches(data, b), "the batches")
        check_shape(got, (nb, b, length, d), f"to_batches(data of shape {tuple(data.shape)}, {b})")
        if not torch.equal(got, data.view(nb, b, length, d)):
            raise Fail("to_batches has the right shape but the samples are in the wrong order: "
                       "batch i must hold samples i*B ... i*B + B - 1")


@test("to_batches", 1.5, "to_batches: the result is a view sharing storage with the input")
def to_batches_view(ctx) -> None:
    values = torch.arange(24.0).reshape(6, 2, 2)
    got = as_tensor(ctx.student.to_batches(values, 3), "the batches")
    if tuple(got.shape) != (2, 3, 2, 2) or not torch.equal(got, values.view(2, 3, 2, 2)):
        raise Fail("to_batches must first give the right batches before sharing storage counts")
    data = ctx.worker.put(values)
    result = ctx.student.to_batches.options(as_handle=True)(data, 3)
    copy = Fail("to_batches returned a copy; use view/reshape so that the batches share "
                "storage with the data (no copy)")
    # The worker's word (same storage) is not enough on its own: writing through the
    # result must change the data, read back here as data.
    if not ctx.worker.builtin("same_storage", result, data):
        raise copy
    result.fill_(-1.0)
    back = as_tensor(data.clone(), "the data after writing to the batches")
    if tuple(back.shape) != (6, 2, 2) or not bool((back == -1.0).all()):
        raise copy


@test("to_batches", 0.5, "to_batches: ValueError when N is not divisible")
def to_batches_error(ctx) -> None:
    _value_errors([(f"{n} samples in batches of {b}",
                    lambda n=n, b=b: ctx.student.to_batches(torch.zeros(n, 2, 3), b))
                   for n, b in ((7, 2), (10, 4), (3, 5))],
                  "to_batches should raise ValueError when the N samples do not split into "
                  "whole batches (N not divisible by batch_size)")


@test("to_batches", 0.5, "to_batches: ValueError when batch_size <= 0")
def to_batches_bad_size(ctx) -> None:
    _value_errors([(f"batch_size={b}", lambda b=b: ctx.student.to_batches(torch.zeros(6, 2, 3), b))
                   for b in (0, -2, -6)],
                  "to_batches should raise ValueError when batch_size is not a positive number "
                  "(check it before dividing by it)")


# ---------------------------------------------------------------- one_hot


@test("one_hot", 1.5, "one_hot: random labels")
def one_hot_values(ctx) -> None:
    g = ctx.generator()
    for _ in range(3):
        c = int(torch.randint(2, 12, (1,), generator=g))
        labels = torch.randint(0, c, (int(torch.randint(1, 30, (1,), generator=g)),), generator=g)
        got = as_tensor(ctx.student.one_hot(labels, c), "the one-hot matrix")
        check_shape(got, (labels.shape[0], c), f"one_hot of {labels.shape[0]} labels, {c} classes")
        want = torch.nn.functional.one_hot(labels, c).float()
        if not torch.equal(got.float(), want):
            raise Fail("one_hot puts the 1s in the wrong places: row i needs a single 1 at "
                       "column labels[i]")


@test("one_hot", 0.75, "one_hot: float32, and classes beyond the largest label")
def one_hot_dtype(ctx) -> None:
    got = as_tensor(ctx.student.one_hot(torch.tensor([0, 1, 1]), 5), "the one-hot matrix")
    check_shape(got, (3, 5), "one_hot(labels, 5) for labels up to 1")
    if got.dtype != torch.float32:
        raise Fail(f"one_hot should return float32 (ready for a loss), not {got.dtype}")
    if not torch.equal(got, torch.eye(5)[[0, 1, 1]]):
        raise Fail("one_hot puts the 1s in the wrong places when there are more classes than labels")


@test("one_hot", 0.75, "one_hot: ValueError for labels outside [0, num_classes)")
def one_hot_error(ctx) -> None:
    cases = [("a label equal to num_classes", torch.tensor([0, 3, 1]), 3),
             ("a label larger than num_classes", torch.tensor([5]), 2),
             ("a negative label", torch.tensor([0, -1, 2]), 4)]
    _value_errors([(what, lambda labels=labels, k=k: ctx.student.one_hot(labels, k))
                   for what, labels, k in cases],
                  "one_hot should raise ValueError when a label is negative or not smaller than "
                  "num_classes (check the labels first: indexing with a negative label silently "
                  "counts from the end)")
