"""Shared by the ps4_modules tests: the lecture's data and checks of the student's modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..api import StudentError
from ..facts import ModelFacts, shipped_state
from ..framework import Fail, describe_value

MODULE = "torch.nn.modules.module.Module"
LINEAR = "torch.nn.modules.linear.Linear"
DATASET = "torch.utils.data.dataset.Dataset"

# The lecture's exam scores (public: they are printed in the notebook).
X_EXAM = torch.tensor([[73.0, 80.0, 75.0], [93.0, 88.0, 93.0], [89.0, 91.0, 90.0],
                       [96.0, 98.0, 100.0], [73.0, 66.0, 70.0]])
Y_EXAM = torch.tensor([[152.0], [185.0], [180.0], [196.0], [142.0]])


# ---------------------------------------------------------------- helpers: modules


def _construct(ctx, cls: str, *args: Any) -> Any:
    obj = getattr(ctx.student, cls)(*args)
    if ctx.worker.holds(obj):
        return obj
    raise Fail(f"{cls}({', '.join(map(repr, args))}) should create a model object, "
               f"but it gave {describe_value(obj)}")


def _linear_layers(info: dict) -> list[str]:
    return [name for name, kind in info.get("modules", []) if kind == LINEAR]


def _check_module(ctx, obj: Any, cls: str, n_in: int, n_out: int, call: str) -> None:
    """One nn.Module subclass holding exactly one nn.Linear(n_in, n_out) and nothing else."""
    # What the worker says about the class gives clear messages, never points ...
    info = ctx.worker.describe(obj)
    if MODULE not in info.get("mro", []):
        raise Fail(f"{cls} should be a subclass of nn.Module (class {cls}(nn.Module): ...)")
    linears = _linear_layers(info)
    if len(linears) != 1:
        raise Fail(f"{call} should hold exactly one nn.Linear layer, but it holds {len(linears)}")
    # ... the shapes and the count are computed here, from the state_dict's tensors.
    state, _ = shipped_state(ctx, obj, call)
    facts = ModelFacts.of(state)
    shapes = sorted(facts.shapes.values())
    want = sorted([(n_out, n_in), (n_out,)])
    if shapes != want:
        raise Fail(f"{call} should have one weight of shape {(n_out, n_in)} and one bias of shape "
                   f"{(n_out,)} (nn.Linear({n_in}, {n_out})), but its state_dict holds shapes "
                   f"{list(facts.shapes.values())}")
    if facts.n_parameters != n_in * n_out + n_out:
        raise Fail(f"{call} should have {n_in * n_out + n_out} parameters, "
                   f"not {facts.n_parameters}")


def _load_weights(model: Any, W: torch.Tensor, b: torch.Tensor, what: str) -> None:
    """Set the model's weight and bias through its own state_dict keys."""
    state = model.state_dict()
    keys = list(state)
    shapes = {}
    for key in keys:
        value = state[key]
        shapes[key] = tuple(value.shape) if isinstance(value, torch.Tensor) else None
    weight = [k for k, s in shapes.items() if s == tuple(W.shape)]
    bias = [k for k, s in shapes.items() if s == tuple(b.shape)]
    if len(keys) != 2 or len(weight) != 1 or len(bias) != 1:
        raise Fail(f"{what} should hold exactly one weight of shape {tuple(W.shape)} and one bias of "
                   f"shape {tuple(b.shape)} (one nn.Linear layer), so known weights cannot be loaded")
    model.load_state_dict({weight[0]: W.clone(), bias[0]: b.clone()})


# ---------------------------------------------------------------- helpers: torch in the worker
# Tests of training functions run them on layers and loaders made in the worker by torch
# itself (the notebook's locked setup cell: ``nn``, ``TensorDataset``, ``DataLoader``), so a
# mistake in the student's own classes costs points only there.


def worker_linear(ctx, n_in: int, checked: str) -> Any:
    """An nn.Linear(n_in, 1) made in the worker; ``checked`` names the function under test."""
    try:
        layer = ctx.worker.construct("nn", "Linear", n_in, 1)
        info = ctx.worker.describe(layer)
    except StudentError:
        info, layer = {}, None
    if info.get("type") != LINEAR:
        raise Fail(f"{checked} could not be checked: the setup cell's `nn` (torch.nn) was "
                   "replaced in the notebook; do not redefine it")
    return layer


def worker_loader(ctx, X: torch.Tensor, Y: torch.Tensor, batch_size: int, checked: str) -> Any:
    """A DataLoader(TensorDataset(X, Y), batch_size, shuffle=False) made in the worker."""
    try:
        dataset = ctx.student.TensorDataset(X, Y)
        return ctx.student.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    except StudentError:
        raise Fail(f"{checked} could not be checked: the setup cell's TensorDataset and "
                   "DataLoader were replaced in the notebook; do not redefine them") from None


def numbers(value: Any) -> list[float] | None:
    """A list/tuple of numbers (or one-number tensors) as floats, else None."""
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for v in value:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.append(float(v))
    return out


def linear_at(W: torch.Tensor, b: torch.Tensor) -> torch.nn.Linear:
    """A trusted ``nn.Linear`` that starts from the weight and bias the student's run started from."""
    layer = torch.nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
    return layer


def mse_pass(layer: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor, batch_size: int,
             optimizer: torch.optim.Optimizer | None = None, zero_grad: bool = True,
             ) -> list[tuple[int, float]]:
    """One pass over (X, Y) in order: (batch size, MSE before its update) per mini-batch.

    With an ``optimizer`` every mini-batch takes a step (``zero_grad=False`` replays the
    mistake of never clearing gradients); without one the pass only measures. The replays of
    ``train_regression`` and ``fit_and_validate`` share it, so both reference runs follow
    one recipe.

    >>> layer = linear_at(torch.ones(1, 1), torch.zeros(1))
    >>> mse_pass(layer, torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[2.0], [2.0], [2.0]]), 2)
    [(2, 0.5), (1, 1.0)]
    """
    out = []
    for start in range(0, len(X), batch_size):
        xb, yb = X[start:start + batch_size], Y[start:start + batch_size]
        cost = torch.nn.functional.mse_loss(layer(xb), yb)
        if optimizer is not None:
            if zero_grad:
                optimizer.zero_grad()
            cost.backward()
            optimizer.step()
        out.append((len(xb), cost.item()))
    return out
