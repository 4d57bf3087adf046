"""bce_loss: the mean binary cross-entropy, finite for predictions of exactly 0 and 1."""

from __future__ import annotations

import math

import torch

from ..api import randint
from ..framework import Fail, Registry, as_tensor, score_fraction

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- bce_loss


def _bce64(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    p = p.double().clamp(1e-7, 1 - 1e-7)
    y = y.double()
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def _scalar(value) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return float(value.reshape(()))
    if isinstance(value, float):
        return value
    return None


@test("bce_loss", 2, "bce_loss: mean binary cross-entropy on random data")
def bce_random(ctx) -> None:
    g = ctx.generator()
    ok, total, hints = 0, 6, set()
    shapes = [(randint(g, 2, 9), 1), (randint(g, 2, 9),), (randint(g, 2, 6), randint(g, 2, 4)),
              (4, 1), (randint(g, 10, 30), 1), (randint(g, 2, 5), 3)]
    for shape in shapes:
        p = torch.rand(shape, generator=g) * 0.98 + 0.01
        y = (torch.rand(shape, generator=g) > 0.5).float()
        want = float(_bce64(p, y))
        got = _scalar(ctx.student.bce_loss(p, y))
        if got is None or not math.isfinite(got):
            hints.add("bce_loss should return one finite number (a 0-dim tensor)")
            continue
        if abs(got - want) <= 1e-5 * max(1.0, abs(want)):
            ok += 1
            continue
        m = p.numel()
        rows = shape[0]

        def near(x: float, got: float = got) -> bool:
            return abs(got - x) <= 1e-4 * max(1.0, abs(x))

        if m > 1 and near(want * m):
            hints.add("the loss is summed over the entries instead of averaged: use the mean "
                      "(divide by the number of entries)")
        elif m != rows and near(want * m / rows):
            hints.add("the loss is averaged over the rows only: take the mean over all entries "
                      "of y_pred, like nn.BCELoss()")
        elif near(-want):
            hints.add("the loss has the wrong sign: BCE = -mean(y log p + (1 - y) log(1 - p))")
    score_fraction(ok, total, "bce_loss is right for {passed} of {total} random cases"
                   + (": " + "; ".join(sorted(hints)) if hints else ""))


@test("bce_loss", 1.5, "bce_loss: stays finite for predictions of exactly 0 and 1")
def bce_extremes(ctx) -> None:
    g = ctx.generator()
    problems: list[str] = []
    ok = 0
    # right and fully confident: about zero cost
    y = (torch.rand(8, 1, generator=g) > 0.5).float()
    y[0], y[1] = 0.0, 1.0
    got = _scalar(ctx.student.bce_loss(y.clone(), y))
    if got is not None and math.isfinite(got) and 0 <= got < 1e-3:
        ok += 1
    elif got is None or not math.isfinite(got):
        problems.append("right predictions of exactly 0 and 1 give NaN or inf (0 * log 0 is "
                        "NaN): clamp the predictions into [eps, 1 - eps] before the log")
    else:
        problems.append("right, fully confident predictions should cost (almost) nothing")
    # wrong and fully confident: large but finite
    got = _scalar(ctx.student.bce_loss(1.0 - y, y))
    if got is not None and math.isfinite(got) and got > 5.0:
        ok += 1
    elif got is None or not math.isfinite(got):
        problems.append("wrong predictions of exactly 0 or 1 give inf or NaN (log 0 = -inf): "
                        "clamp the predictions into [eps, 1 - eps], eps = 1e-7, before the log")
    else:
        problems.append("wrong, fully confident predictions should cost a lot (> 5)")
    # random predictions with a few exact 0s and 1s that are right
    p = torch.rand(10, 2, generator=g) * 0.9 + 0.05
    t = (torch.rand(10, 2, generator=g) > 0.5).float()
    idx = torch.randperm(20, generator=g)[:5]
    p.view(-1)[idx] = t.view(-1)[idx]
    got = _scalar(ctx.student.bce_loss(p, t))
    if got is not None and math.isfinite(got) and abs(got - float(_bce64(p, t))) < 1e-4:
        ok += 1
    elif got is None or not math.isfinite(got):
        if not problems:
            problems.append("predictions that contain a few exact 0s and 1s give NaN or inf: "
                            "clamp the predictions before the log")
    else:
        problems.append("the mean BCE is wrong when some predictions are exactly 0 or 1")
    if problems:
        raise Fail("; ".join(problems), ok / 3)


@test("bce_loss", 0.5, "bce_loss: a 0-dim tensor; predicting 0.5 costs ln 2 for any batch size")
def bce_half(ctx) -> None:
    g = ctx.generator()
    for n in (4, randint(g, 5, 40)):
        y = (torch.rand(n, 1, generator=g) > 0.5).float()
        got = ctx.student.bce_loss(torch.full((n, 1), 0.5), y)
        got = as_tensor(got, "the loss")
        if got.dim() != 0:
            raise Fail(f"bce_loss should return a 0-dim tensor (a scalar), not shape {tuple(got.shape)}")
        value = float(got)
        if not abs(value - math.log(2)) < 1e-5:
            raise Fail("predicting 0.5 everywhere should cost ln 2 ≈ 0.6931 whatever the batch "
                       "size; take the mean over the examples, not the sum")
        p = torch.rand(n, 1, generator=g) * 0.98 + 0.01
        other = _scalar(ctx.student.bce_loss(p, y))
        if other is None or not abs(other - float(_bce64(p, y))) < 1e-4:
            raise Fail("bce_loss gives ln 2 for predictions of 0.5 but is wrong for other "
                       "predictions: compute -mean(y log p + (1 - y) log(1 - p))")
