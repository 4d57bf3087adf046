"""What the worker knows how to do besides running the student's code (worker side).

Small helpers (type names, error records, seeding) and the *builtins* the trusted side may
call by name (``{"builtin": ...}``): a linear probe model, a model's state as plain tensors
and loading it back, ``len``/``list``, storage identity. All of it runs next to student
code, so the student can change any answer given here; the trusted side treats what comes
back as the student's claim (data it checks, never a fact it believes).
"""

from __future__ import annotations

import io
import random
import traceback
from typing import Any


def is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def type_name(value: Any) -> str:
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


def error_dict(exc: BaseException, where: str) -> dict:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(tb)
    return {"type": type(exc).__name__, "message": str(exc)[:2000], "where": where,
            "traceback": text[-8000:]}


def seed_all(seed: Any) -> None:
    if seed is None:
        return
    import numpy as np
    import torch

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def describe(obj: Any) -> dict:
    """What an object says it is, for the trusted side's messages (never for points: student
    code can change every answer here; counts and shapes come from shipped tensors)."""
    import torch

    info: dict[str, Any] = {
        "type": type_name(obj),
        "mro": [f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__],
        "callable": callable(obj),
    }
    if isinstance(obj, torch.nn.Module):
        info["modules"] = [[name, type_name(m)] for name, m in obj.named_modules() if name]
        info["training"] = bool(obj.training)
    if isinstance(obj, torch.utils.data.DataLoader):
        info["batch_size"] = obj.batch_size
        info["drop_last"] = bool(obj.drop_last)
    return info


def _same_storage(a: Any, b: Any) -> bool:
    import torch

    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
            and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr())


def _linear_probe(weight: Any, bias: Any) -> Any:
    """A known model (flatten + linear) for testing functions that take a model."""
    import torch

    probe = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(weight.shape[1], weight.shape[0]))
    with torch.no_grad():
        probe[1].weight.copy_(weight)
        probe[1].bias.copy_(bias)
    return probe


def _trained_state(model: Any) -> dict:
    """A trained model's weights as plain CPU tensors, and whether it was in training mode."""
    weights = {str(k): v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    return {"weights": weights, "training": bool(getattr(model, "training", False))}


def _load_trained_state(model: Any, weights: dict, training: bool, device: str) -> None:
    model.load_state_dict(weights)
    model.to(device)
    model.train(training)


BUILTINS = {
    "linear_probe": _linear_probe,
    "trained_state": _trained_state,
    "load_trained_state": _load_trained_state,
    "len": len,
    "list": lambda obj, limit=100_000: _bounded_list(obj, limit),
    "same_storage": _same_storage,
}


def _bounded_list(obj: Any, limit: int) -> list:
    out = []
    for item in obj:
        out.append(item)
        if len(out) > limit:
            raise OverflowError(f"more than {limit} items")
    return out


class CappedIO(io.StringIO):
    """Captures a cell's prints, keeping at most ``cap`` characters (the worker's
    ``cell_output_chars``) and counting the rest."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.dropped = 0

    def write(self, s: str) -> int:
        s = str(s)
        room = self.cap - self.tell()
        if room > 0:
            super().write(s[:room])
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def getvalue(self) -> str:
        text = super().getvalue()
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output dropped ...]\n"
        return text
