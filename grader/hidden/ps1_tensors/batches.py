"""ps1 parts 7-8: batches as views sharing storage, one-hot labels."""

from __future__ import annotations

import torch

from ..framework import (
    Fail,
    Registry,
    as_tensor,
    check_shape,
    value_errors,
)
from ._common import _random_shape

registry = Registry()
TESTS = registry.tests
test = registry.test


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
    value_errors([(f"{n} samples in batches of {b}",
                    lambda n=n, b=b: ctx.student.to_batches(torch.zeros(n, 2, 3), b))
                   for n, b in ((7, 2), (10, 4), (3, 5))],
                  "to_batches should raise ValueError when the N samples do not split into "
                  "whole batches (N not divisible by batch_size)")


@test("to_batches", 0.5, "to_batches: ValueError when batch_size <= 0")
def to_batches_bad_size(ctx) -> None:
    value_errors([(f"batch_size={b}", lambda b=b: ctx.student.to_batches(torch.zeros(6, 2, 3), b))
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
    value_errors([(what, lambda labels=labels, k=k: ctx.student.one_hot(labels, k))
                   for what, labels, k in cases],
                  "one_hot should raise ValueError when a label is negative or not smaller than "
                  "num_classes (check the labels first: indexing with a negative label silently "
                  "counts from the end)")
