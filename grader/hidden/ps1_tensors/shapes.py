"""ps1 parts 1-3: rank and shape, slicing columns, broadcasting shapes by hand."""

from __future__ import annotations

import numpy as np
import torch

from .. import static
from ..framework import (
    Fail,
    Registry,
    by_hand,
    describe_value,
    score_fraction,
    unpack,
    value_errors,
)
from ._common import _random_shape

registry = Registry()
TESTS = registry.tests
test = registry.test


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
    value_errors([(w, lambda a=a, b=b: ctx.student.broadcast_shape(a, b))
                   for w, (a, b) in zip(words, pairs, strict=True)],
                  "broadcast_shape should raise ValueError when two aligned sizes differ and "
                  "neither of them is 1")


@test("broadcast_shape", 1, "broadcast_shape: written by hand, not with a library helper",
      kind="static")
def broadcast_by_hand(ctx) -> None:
    by_hand(ctx, static.LIBRARY_BROADCAST, "broadcast_shape should apply the rules itself")
