"""fit_and_validate: training, and a validation loss after every epoch.

``fit_and_validate`` trains layers and loaders built in the worker by torch itself
(``_common.worker_linear``/``worker_loader``). Its losses are replayed here with the
reference; the hints come from replays of the usual mistakes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .. import static
from ..api import StudentError, randint
from ..framework import Fail, Registry, describe_value
from ._common import numbers, worker_linear, worker_loader
from .fit_replay import _TRAIN_HINTS, _VAL_HINTS, _replay

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- fit_and_validate










def _losses(got: Any, epochs: int) -> tuple[list[float], list[float]]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Fail("fit_and_validate should return a pair (train_losses, val_losses), but it "
                   f"returned {describe_value(got)}")
    lists = [numbers(v) for v in got]
    for values, name in zip(lists, ("train_losses", "val_losses"), strict=True):
        if values is None:
            raise Fail(f"{name} should be a list of numbers (one per epoch)")
        if len(values) != epochs:
            raise Fail(f"{name} holds {len(values)} losses for {epochs} epochs; expected one per "
                       "epoch")
    return lists[0], lists[1]


def _close(a: float, b: float, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _all_close(got: list[float], want: list[float]) -> bool:
    return len(got) == len(want) and all(_close(a, w) for a, w in zip(got, want, strict=True))


def _data(g: torch.Generator, n: int, n_val: int, d: int) -> tuple[torch.Tensor, ...]:
    w = torch.randn(d, 1, generator=g)
    X = torch.randn(n + n_val, d, generator=g)
    Y = X @ w + 0.5 + 0.3 * torch.randn(n + n_val, 1, generator=g)
    return X[:n], Y[:n], X[n:], Y[n:]


def _setup(ctx) -> tuple:
    g = ctx.generator()     # seeded per test: each test gets its own data
    d = randint(g, 2, 4)
    data = _data(g, 8, 5, d)
    W = torch.randn(1, d, generator=g) * 0.5
    b = torch.randn(1, generator=g) * 0.5
    return data, W, b


def _run_student(ctx, data, W, b, bs, vbs, epochs, lr) -> tuple[Any, Any]:
    X, Y, Xv, Yv = data
    layer = worker_linear(ctx, X.shape[1], "fit_and_validate")
    layer.load_state_dict({"weight": W.clone(), "bias": b.clone()})
    got = ctx.student.fit_and_validate(layer, worker_loader(ctx, X, Y, bs, "fit_and_validate"),
                                       worker_loader(ctx, Xv, Yv, vbs, "fit_and_validate"), epochs, lr)
    return got, layer


def _run_reference(ctx, data, W, b, bs, vbs, epochs, lr) -> tuple[list[float], list[float], nn.Linear]:
    X, Y, Xv, Yv = data
    layer = nn.Linear(X.shape[1], 1)
    layer.load_state_dict({"weight": W.clone(), "bias": b.clone()})
    train, val = ctx.ref.fit_and_validate(layer, DataLoader(TensorDataset(X, Y), batch_size=bs),
                                          DataLoader(TensorDataset(Xv, Yv), batch_size=vbs),
                                          epochs, lr)
    return [float(v) for v in train], [float(v) for v in val], layer


@test("fit_and_validate", 1.5,
      "fit_and_validate: training and validation losses of every epoch (Adam, F.mse_loss)")
def fit_losses(ctx) -> None:
    data, W, b = _setup(ctx)
    bs, vbs, epochs, lr = 3, 2, 4, 0.05        # batches of 3, 3, 2 and of 2, 2, 1
    got, _ = _run_student(ctx, data, W, b, bs, vbs, epochs, lr)
    train, val = _losses(got, epochs)
    want_train, want_val, _ = _run_reference(ctx, data, W, b, bs, vbs, epochs, lr)
    train_ok, val_ok = _all_close(train, want_train), _all_close(val, want_val)
    if train_ok and val_ok:
        return
    hints: list[str] = []
    for kwargs, hint in _TRAIN_HINTS + _VAL_HINTS:
        t, v, _, _ = _replay(W, b, data, bs, vbs, epochs, lr, **kwargs)
        if (train_ok or _all_close(train, t)) and (val_ok or _all_close(val, v)):
            hints.append(hint)
            break
    if not hints:
        if not train_ok:
            hints.append("the training losses differ: one Adam step per training mini-batch on "
                         "F.mse_loss(model(x), y), each batch's loss measured before its update, "
                         "weighted by batch size")
        if not val_ok:
            hints.append("the validation losses differ: after each epoch's updates, the "
                         "batch-size-weighted mean of F.mse_loss over all validation batches, "
                         "without changing any weight")
    right = [name for name, ok in (("training", train_ok), ("validation", val_ok)) if ok]
    head = (f"the {right[0]} losses are right, but " if right else "the losses are wrong: ")
    raise Fail(head + "; ".join(hints), (train_ok + val_ok) / 2)


@test("fit_and_validate", 0.75,
      "fit_and_validate: trains the given model in place; validation leaves the weights alone")
def fit_weights(ctx) -> None:
    data, W, b = _setup(ctx)
    bs, vbs, epochs, lr = 4, 3, 3, 0.05
    _, layer = _run_student(ctx, data, W, b, bs, vbs, epochs, lr)
    weight, bias = layer.weight, layer.bias
    if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
        raise Fail("the model's weight and bias could not be read after training")
    _, _, ref = _run_reference(ctx, data, W, b, bs, vbs, epochs, lr)
    if torch.equal(weight, W) and torch.equal(bias, b):
        raise Fail("the model passed to fit_and_validate did not change: optimise "
                   "model.parameters() of that very model (train it in place, not a copy)")
    if torch.allclose(weight, ref.weight.detach(), rtol=1e-4, atol=1e-6) \
            and torch.allclose(bias, ref.bias.detach(), rtol=1e-4, atol=1e-6):
        return
    _, _, w2, b2 = _replay(W, b, data, bs, vbs, epochs, lr, val_steps=True)
    if torch.allclose(weight, w2, rtol=1e-4, atol=1e-6) and torch.allclose(bias, b2, rtol=1e-4, atol=1e-6):
        raise Fail("the validation batches changed the weights: validation must only measure "
                   "(no backward, no optimizer step)")
    raise Fail("after training, the model's weights differ from one Adam step per training "
               "mini-batch on F.mse_loss with the given lr (check zero_grad, the optimizer, the "
               "number of epochs, and that validation changes nothing)", 0.25)


def _worker_nn(ctx, attr: str, *args: Any) -> Any:
    """An nn.<attr>(*args) made in the worker by torch itself (the setup cell's ``nn``)."""
    try:
        return ctx.worker.construct("nn", attr, *args)
    except StudentError:
        raise Fail("fit_and_validate could not be checked: the setup cell's `nn` (torch.nn) was "
                   "replaced in the notebook; do not redefine it") from None


def _dropout_net(d: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, hidden), nn.Dropout(0.5), nn.Linear(hidden, 1))


def _dropout_model(ctx, g: torch.Generator, d: int, hidden: int) -> Any:
    """Linear, Dropout(0.5), Linear in the worker, with weights drawn here from ``g``."""
    model = _worker_nn(ctx, "Sequential", _worker_nn(ctx, "Linear", d, hidden),
                    _worker_nn(ctx, "Dropout", 0.5), _worker_nn(ctx, "Linear", hidden, 1))
    state = {key: torch.randn(value.shape, generator=g) * 0.5
             for key, value in _dropout_net(d, hidden).state_dict().items()}
    model.load_state_dict(state)
    return model


@test("fit_and_validate", 1.25,
      "fit_and_validate: validates in eval mode, returns Python floats, ends in train mode")
def fit_modes(ctx) -> None:
    g = ctx.generator()
    d, hidden, epochs = 3, 16, 2
    X, Y, Xv, Yv = _data(g, 10, 6, d)
    model = _dropout_model(ctx, g, d, hidden)
    got = ctx.student.fit_and_validate(model, worker_loader(ctx, X, Y, 4, "fit_and_validate"),
                                       worker_loader(ctx, Xv, Yv, 4, "fit_and_validate"), epochs, 0.01)
    train, val = _losses(got, epochs)
    problems, earned = [], 0.0
    # The last validation loss must be the loss of the final weights with dropout off.
    replica = _dropout_net(d, hidden)
    try:
        replica.load_state_dict(model.state_dict())
    except (RuntimeError, TypeError, AttributeError):
        raise Fail("the model's state_dict could not be read after fit_and_validate") from None
    replica.eval()
    with torch.no_grad():
        want = torch.nn.functional.mse_loss(replica(Xv), Yv).item()
    if _close(val[-1], want):
        earned += 0.6
    else:
        problems.append("on a model with dropout, the last validation loss is not the loss of "
                        "the trained model in evaluation mode: call model.eval() before "
                        "validating (dropout must be off), after the epoch's updates")
    if model.training is True:
        earned += 0.2
    else:
        problems.append("after fit_and_validate the model should be back in training mode: call "
                        "model.train() after validating")
    values = list(got[0]) + list(got[1])
    if all(isinstance(v, float) for v in values):
        earned += 0.2
    else:
        problems.append("the losses should be Python floats (cost.item()), not tensors")
    if not all(math.isfinite(v) for v in train + val):
        problems.append("some losses are NaN or infinite")
        earned = min(earned, 0.5)
    if problems:
        raise Fail("; ".join(problems), earned)


_NO_GRAD = ("no_grad", "inference_mode", "set_grad_enabled")


@test("fit_and_validate", 0.5, "fit_and_validate: validation under torch.no_grad()",
      kind="static")
def fit_no_grad(ctx) -> None:
    names = [name for _, name in static.names_used(ctx.sources(), "fit_and_validate")]
    if not any(part in _NO_GRAD for name in names for part in name.lstrip(".=").split(".")):
        raise Fail("the validation should run under torch.no_grad() (with torch.no_grad(): ...): "
                   "no graph is needed there, and none should be built")
