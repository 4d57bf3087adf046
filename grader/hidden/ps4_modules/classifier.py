"""SoftmaxClassifier and accuracy: logits of one nn.Linear(784, 10), and the fraction right."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..api import StudentError, randint
from ..framework import Fail, Registry, check_shape, describe_value, score_fraction
from ._common import _check_module, _construct, _load_weights

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- SoftmaxClassifier


@test("SoftmaxClassifier", 1, "SoftmaxClassifier: an nn.Module with one nn.Linear(784, 10)")
def softmax_structure(ctx) -> None:
    model = _construct(ctx, "SoftmaxClassifier")
    _check_module(ctx, model, "SoftmaxClassifier", 784, 10, "SoftmaxClassifier()")


def _softmax_hint(got: torch.Tensor) -> str:
    rows = got.detach().double()
    if bool((rows >= 0).all()) and torch.allclose(rows.sum(dim=1), torch.ones(len(rows), dtype=rows.dtype),
                                                 atol=1e-4):
        return ("the outputs look like probabilities: forward must return the raw logits "
                "x W^T + b and leave the softmax to the loss (nn.CrossEntropyLoss)")
    if bool((rows <= 0).all()):
        return ("the outputs look like log-probabilities: forward must return the raw logits "
                "x W^T + b (nn.CrossEntropyLoss applies log_softmax itself)")
    return "forward must return the logits x W^T + b of its one nn.Linear(784, 10)"


@test("SoftmaxClassifier", 1.25, "SoftmaxClassifier: logits x W^T + b for (N, 784) batches")
def softmax_logits(ctx) -> None:
    g = ctx.generator()
    ok, total, hint = 0, 3, ""
    for _ in range(total):
        n = randint(g, 1, 12)
        model = _construct(ctx, "SoftmaxClassifier")
        W = torch.randn(10, 784, generator=g) * 0.05
        b = torch.randn(10, generator=g)
        _load_weights(model, W, b, "SoftmaxClassifier")
        x = torch.rand(n, 784, generator=g)
        got = model(x)
        if not isinstance(got, torch.Tensor):
            raise Fail(f"model(x) should return a tensor of logits, not {describe_value(got)}")
        check_shape(got, (n, 10), f"the logits of a ({n}, 784) batch")
        if torch.allclose(got.detach().double(), (x @ W.T + b).double(), rtol=1e-4, atol=1e-4):
            ok += 1
        else:
            hint = _softmax_hint(got)
    if ok < total:
        raise Fail(f"the logits are right for {ok} of {total} batches with known weights: {hint}",
                   ok / total)


@test("SoftmaxClassifier", 0.75, "SoftmaxClassifier: accepts images of shape (N, 1, 28, 28)")
def softmax_images(ctx) -> None:
    g = ctx.generator()
    model = _construct(ctx, "SoftmaxClassifier")
    n = randint(g, 2, 9)
    images = torch.rand(n, 1, 28, 28, generator=g)
    try:
        from_images = model(images)
    except StudentError as exc:
        raise Fail(f"model(images) for images of shape (N, 1, 28, 28) raised {exc.type}: forward "
                   "should flatten its input to (N, 784) first (x.view(-1, 28 * 28))") from None
    if not isinstance(from_images, torch.Tensor):
        raise Fail(f"model(images) should return a tensor of logits, not {describe_value(from_images)}")
    if tuple(from_images.shape) != (n, 10):
        raise Fail(f"images of shape (N, 1, 28, 28) should give (N, 10) logits, but a batch of {n} "
                   f"gave shape {tuple(from_images.shape)}")
    flat = model(images.reshape(n, 784))
    if not isinstance(flat, torch.Tensor) or flat.shape != from_images.shape \
            or not torch.allclose(from_images.double(), flat.double(), atol=1e-5):
        raise Fail("(N, 1, 28, 28) images and their (N, 784) flattening should give the same logits")


# ---------------------------------------------------------------- accuracy


def _accuracy_value(got: Any, what: str) -> float:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, np.generic):
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise Fail(f"{what}: accuracy should return a number, but it returned {describe_value(got)}")
    return float(got)


@test("accuracy", 1.5, "accuracy: random logits and labels")
def accuracy_random(ctx) -> None:
    g = ctx.generator()
    ok, total, counted = 0, 6, False
    for _ in range(total):
        n, c = randint(g, 2, 40), randint(g, 2, 12)
        logits = torch.randn(n, c, generator=g)
        labels = torch.randint(0, c, (n,), generator=g)
        right = torch.rand(n, generator=g) < float(torch.rand(1, generator=g))
        labels = torch.where(right, logits.argmax(dim=1), labels)
        want = float(ctx.ref.accuracy(logits, labels))
        got = _accuracy_value(ctx.student.accuracy(logits, labels), "on random logits")
        if abs(got - want) < 1e-6:
            ok += 1
        elif abs(got - want * n) < 1e-6:
            counted = True
    if ok < total:
        hint = ("accuracy is the fraction of correct predictions (between 0 and 1), not their "
                "count: divide by the number of examples" if counted else
                "the predicted class is the argmax of each row (dim=1), compared with the label")
        raise Fail(f"accuracy is right for {ok} of {total} random batches: {hint}", ok / total)


@test("accuracy", 0.75, "accuracy: returns a Python float in [0, 1]")
def accuracy_type(ctx) -> None:
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.0, 0.2, 0.1], [1.0, 0.0, 2.0]])
    got = ctx.student.accuracy(logits, torch.tensor([1, 0, 2, 2]))
    if isinstance(got, (torch.Tensor, np.ndarray)):
        raise Fail(f"accuracy should return a Python float, not {describe_value(got)}: "
                   "finish with .item()")
    if isinstance(got, bool) or not isinstance(got, float):
        raise Fail(f"accuracy should return a Python float, but it returned {describe_value(got)}")
    if not 0.0 <= got <= 1.0:
        raise Fail("accuracy should be a fraction in [0, 1]")
    if abs(got - 0.75) > 1e-6:
        raise Fail("accuracy returns a float in [0, 1], but not the fraction of rows whose "
                   "argmax equals the label")


@test("accuracy", 0.75, "accuracy: all right, all wrong, a single example")
def accuracy_edges(ctx) -> None:
    g = ctx.generator()
    n, c = randint(g, 5, 20), randint(g, 3, 10)
    logits = torch.randn(n, c, generator=g)
    best = logits.argmax(dim=1)
    wrong = (best + torch.randint(1, c, (n,), generator=g)) % c
    cases = [(logits, best, 1.0), (logits, wrong, 0.0), (logits[:1], best[:1], 1.0),
             (logits[:1], wrong[:1], 0.0)]
    ok = 0
    for lg, lb, want in cases:
        got = _accuracy_value(ctx.student.accuracy(lg, lb), "for an edge case")
        ok += abs(got - want) < 1e-6
    score_fraction(ok, len(cases), "accuracy is right for {passed} of {total} edge cases (every "
                                   "prediction right, every prediction wrong, a batch of one)")
