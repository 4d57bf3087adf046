"""train_regression: epoch losses and trained weights against the reference run.

The student's function trains a plain ``nn.Linear`` and a ``DataLoader`` built in the
worker from the notebook's locked setup cell, so a mistake in the student's model class
or ``make_loader`` costs points only there.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from ..framework import Fail, Registry, describe_value
from ._common import X_EXAM, Y_EXAM, linear_at, mse_pass, numbers, worker_linear, worker_loader

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- train_regression


def _trajectory(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
                batch_size: int, epochs: int, lr: float, zero_grad: bool = True,
                ) -> list[list[tuple[int, float]]]:
    """(batch size, loss before its update) of every mini-batch, epoch by epoch."""
    layer = linear_at(W, b)
    opt = torch.optim.SGD(layer.parameters(), lr=lr)
    return [mse_pass(layer, X, Y, batch_size, opt, zero_grad) for _ in range(epochs)]


def _reference(ctx, W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
               batch_size: int, epochs: int, lr: float) -> tuple[list[float], torch.Tensor, torch.Tensor]:
    """The reference solution's losses and trained weight and bias."""
    model = ctx.ref.MultivariateLinearRegressionModel(X.shape[1])
    model.load_state_dict({k: (W if v.dim() == 2 else b).clone()
                           for k, v in model.state_dict().items()})
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=False)
    losses = ctx.ref.train_regression(model, loader, epochs, lr)
    state = model.state_dict()
    weight = next(v for v in state.values() if v.dim() == 2).clone()
    bias = next(v for v in state.values() if v.dim() == 1).clone()
    return [float(v) for v in losses], weight, bias


def _close(a: float, b: float, rtol: float = 1e-3, atol: float = 1e-4) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _all_close(got: list[float], want: list[float]) -> bool:
    return len(got) == len(want) and all(_close(a, w) for a, w in zip(got, want, strict=True))


def _run_student(ctx, W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
                 batch_size: int, epochs: int, lr: float) -> tuple[Any, Any]:
    layer = worker_linear(ctx, X.shape[1], "train_regression")
    layer.load_state_dict({"weight": W.clone(), "bias": b.clone()})
    loader = worker_loader(ctx, X, Y, batch_size, "train_regression")
    return ctx.student.train_regression(layer, loader, epochs, lr), layer


def _losses_or_fail(got: Any, epochs: int) -> list[float]:
    losses = numbers(got)
    if losses is None:
        raise Fail("train_regression should return a list with one loss (a number) per epoch, "
                   f"but it returned {describe_value(got)}")
    if len(losses) != epochs:
        raise Fail(f"train_regression returned {len(losses)} losses for {epochs} epochs; "
                   "expected one mean loss per epoch")
    return losses


@test("train_regression", 1.5, "train_regression: the lecture's full-batch run from zero weights")
def train_full_batch(ctx) -> None:
    epochs, lr = 21, 1e-5
    W, b = torch.zeros(1, 3), torch.zeros(1)
    got, _ = _run_student(ctx, W, b, X_EXAM, Y_EXAM, 5, epochs, lr)
    losses = _losses_or_fail(got, epochs)
    want, _, _ = _reference(ctx, W, b, X_EXAM, Y_EXAM, 5, epochs + 1, lr)
    ok = sum(_close(a, w) for a, w in zip(losses, want[:epochs], strict=True))
    if ok == epochs:
        return
    if _all_close(losses, want[1:]):
        raise Fail("every loss is the one of the following epoch: record each batch's loss "
                   "before its optimizer step (it is the cost of the weights that made the "
                   "prediction)", ok / epochs)
    if _close(losses[0], want[0]):
        raise Fail(f"the first epoch's loss is right (the lecture's 29661.8), but {epochs - ok} of "
                   f"the {epochs} epoch losses are wrong: make exactly one SGD step per batch with "
                   "the given lr, and call optimizer.zero_grad() before cost.backward() so that "
                   "gradients do not accumulate", ok / epochs)
    raise Fail(f"the epoch losses differ from the lecture's run in {epochs - ok} of {epochs} epochs, "
               "starting with the first (from zero weights it must be 29661.8): use "
               "F.mse_loss(model(x), y) on each batch", ok / epochs)


@test("train_regression", 1.5,
      "train_regression: mini-batches of sizes 2, 2 and 1 (epoch loss weighted by batch size)")
def train_mini_batch(ctx) -> None:
    g = ctx.generator()
    epochs, lr, batch_size = 4, 1e-5, 2
    W = torch.rand(1, 3, generator=g) * 0.8 + 0.2
    b = torch.rand(1, generator=g) - 0.5
    got, _ = _run_student(ctx, W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr)
    losses = _losses_or_fail(got, epochs)
    want, _, _ = _reference(ctx, W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr)
    if _all_close(losses, want):
        return
    runs = _trajectory(W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr)
    hints = [
        ([sum(loss for _, loss in e) / len(e) for e in runs],
         "you averaged the batch losses without weighting them: the epoch loss must be weighted "
         "by batch size, sum(B_k * loss_k) / sum(B_k), so the last batch of 1 counts once"),
        ([sum(loss for _, loss in e) for e in runs],
         "you summed the batch losses: the epoch loss is their mean weighted by batch size, "
         "sum(B_k * loss_k) / sum(B_k)"),
        ([e[-1][1] for e in runs],
         "you returned the last mini-batch's loss: the epoch loss is the mean over all its "
         "mini-batches, weighted by batch size"),
        ([e[0][1] for e in runs],
         "you returned the first mini-batch's loss: the epoch loss is the mean over all its "
         "mini-batches, weighted by batch size"),
        ([sum(n * loss for n, loss in e) / sum(n for n, _ in e)
          for e in _trajectory(W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr, zero_grad=False)],
         "the gradients accumulate from batch to batch: call optimizer.zero_grad() before "
         "cost.backward()"),
    ]
    for values, hint in hints:
        if _all_close(losses, values):
            raise Fail("with mini-batches the epoch losses are wrong: " + hint)
    raise Fail("with mini-batches the epoch losses are wrong: make one SGD step per mini-batch "
               "and report the loss of each epoch as the batch-size-weighted mean of its batch "
               "losses, each measured before its batch's update")


@test("train_regression", 1, "train_regression: trains the given model in place")
def train_weights(ctx) -> None:
    g = ctx.generator()
    n, d, epochs, lr, batch_size = 9, 3, 3, 0.05, 4
    X = torch.randn(n, d, generator=g)
    Y = X @ torch.randn(d, 1, generator=g) + 0.5 + 0.1 * torch.randn(n, 1, generator=g)
    W = torch.randn(1, d, generator=g) * 0.3
    b = torch.zeros(1)
    _, layer = _run_student(ctx, W, b, X, Y, batch_size, epochs, lr)
    weight, bias = layer.weight, layer.bias
    _, want_w, want_b = _reference(ctx, W, b, X, Y, batch_size, epochs, lr)
    if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
        raise Fail("the model's weight and bias could not be read after training")
    if tuple(weight.shape) != (1, d) or tuple(bias.shape) != (1,):
        raise Fail("after training, the model's weight or bias has a different shape: train the "
                   "model's own parameters in place")
    if torch.equal(weight, W) and torch.equal(bias, b):
        raise Fail("the model passed to train_regression did not change: optimise "
                   "model.parameters() of that very model (train it in place, not a copy)")
    w_ok = torch.allclose(weight.double(), want_w.double(), rtol=1e-4, atol=1e-5)
    b_ok = torch.allclose(bias.double(), want_b.double(), rtol=1e-4, atol=1e-5)
    if not (w_ok and b_ok):
        raise Fail("after training, the model's weights differ from one SGD step per mini-batch "
                   "on F.mse_loss with the given lr (check zero_grad, the number of epochs and "
                   "that every batch is used)", 0.25)


@test("train_regression", 1,
      "train_regression: returns a list of Python floats, one per epoch, that decrease")
def train_return_type(ctx) -> None:
    for epochs in (1, 3):
        got, _ = _run_student(ctx, torch.zeros(1, 3), torch.zeros(1), X_EXAM, Y_EXAM, 5, epochs, 1e-5)
        if not isinstance(got, list):
            raise Fail(f"train_regression should return a list, but it returned {describe_value(got)}")
        if len(got) != epochs:
            raise Fail(f"train_regression returned {len(got)} losses for {epochs} epochs; expected "
                       "one per epoch")
        for v in got:
            if isinstance(v, torch.Tensor):
                raise Fail("the losses should be Python floats, not tensors: use cost.item() "
                           "(which also frees the computation graph)", 0.25)
            if isinstance(v, bool) or not isinstance(v, float):
                raise Fail(f"each loss should be a Python float, but one is {describe_value(v)}",
                           0.25)
            if not math.isfinite(v):
                raise Fail("an epoch loss is NaN or infinite", 0.25)
        if any(a <= b for a, b in itertools.pairwise(got)):
            raise Fail("from zero weights with lr 1e-5 the full-batch loss should decrease every "
                       "epoch, but it does not", 0.5)
