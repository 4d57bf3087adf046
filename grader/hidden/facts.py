"""Facts about a student's model, computed here from data the worker ships.

Everything the worker says *about* an object (its class, its layers, its parameter count)
is produced by code the student controls, so no points rest on it. What the trusted side
can believe is data: the tensors of a ``state_dict``, shipped as tensors and checked
here, and behaviour measured from outside (load known weights, look at the outputs). So
a parameter count is the number of elements in the shipped tensors, a "convolution" is a
4-D kernel among them, and "it uses that kernel" means zeroing it changes the output.

Only the weights cross from the training worker to the evaluation worker (``hand_over``),
so what a model learned is bounded by the tensors counted here, whatever its code claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .api import StudentError
from .framework import Fail


@dataclass(frozen=True)
class ModelFacts:
    """What the shipped ``state_dict`` shows, computed on the trusted side.

    >>> f = ModelFacts.of({"conv.weight": torch.zeros(8, 1, 3, 3), "fc.bias": torch.zeros(10)})
    >>> f.n_parameters, f.kernels
    (82, ('conv.weight',))
    """

    shapes: dict[str, tuple[int, ...]]
    n_parameters: int          # elements of every floating-point tensor (parameters, buffers)
    kernels: tuple[str, ...]   # keys of 4-D floating tensors: (out, in, kh, kw) conv kernels

    @classmethod
    def of(cls, state: dict[str, torch.Tensor]) -> ModelFacts:
        floats = {k: v for k, v in state.items() if v.is_floating_point()}
        return cls(shapes={k: tuple(v.shape) for k, v in state.items()},
                   n_parameters=int(sum(v.numel() for v in floats.values())),
                   kernels=tuple(k for k, v in floats.items() if v.dim() == 4))


def shipped_state(ctx, model, what: str) -> tuple[dict[str, torch.Tensor], bool]:
    """The model's ``state_dict()`` as CPU tensors (data) and whether it is in training mode.

    Fails with a message when the worker cannot or will not produce one: then the object
    is not an ``nn.Module`` as far as grading is concerned.
    """
    try:
        state = ctx.worker.builtin("trained_state", model)
    except StudentError as exc:
        raise Fail(f"{what}: the model's state_dict() could not be read "
                   f"({exc.type}: {exc.message[:200]})") from None
    weights = state.get("weights") if isinstance(state, dict) else None
    if not isinstance(weights, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in weights.items()):
        raise Fail(f"{what} should be an nn.Module whose state_dict() holds its weights")
    return weights, bool(state.get("training"))


def output_depends_on(model, state: dict[str, torch.Tensor], keys: tuple[str, ...],
                      x: torch.Tensor) -> bool:
    """Whether zeroing ``keys`` in the model's own weights changes ``model(x)``.

    Measured from outside: load the shipped weights, run, load them with those tensors
    zeroed, run again, and put the original weights back. A model that keeps what it
    computes with somewhere other than its state_dict shows no difference.
    """
    model.eval()
    model.load_state_dict(state)
    before = model(x)
    model.load_state_dict({k: (torch.zeros_like(v) if k in keys else v) for k, v in state.items()})
    after = model(x)
    model.load_state_dict(state)
    if not (isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor)) \
            or before.shape != after.shape:
        return True   # the shape tests say what is wrong with the output itself
    return not torch.allclose(before.double(), after.double(), atol=1e-7, rtol=0)
