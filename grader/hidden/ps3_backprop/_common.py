"""Shared by the ps3_backprop tests: the XOR data, random networks, the reference forward."""

from __future__ import annotations

import torch

KEYS = ("w1", "b1", "w2", "b2")
X_XOR = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = torch.tensor([[0.0], [1.0], [1.0], [0.0]])




def _shapes(n_in: int, h: int, n_out: int) -> dict[str, tuple[int, ...]]:
    return {"w1": (n_in, h), "b1": (h,), "w2": (h, n_out), "b2": (n_out,)}


def _random_params(g: torch.Generator, n_in: int, h: int, n_out: int,
                   scale: float = 1.0) -> dict[str, torch.Tensor]:
    return {k: torch.randn(s, generator=g) * scale for k, s in _shapes(n_in, h, n_out).items()}


def _matches(got, want: torch.Tensor, *, atol: float, rtol: float,
             dtype: torch.dtype | None = None) -> bool:
    return (isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(want.shape)
            and (dtype is None or got.dtype == dtype)
            and bool(torch.isfinite(got).all())
            and torch.allclose(got.detach().double(), want.detach().double(), atol=atol, rtol=rtol))


def _sigmoid64(z: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(z.double())


def _ref_forward(X: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    a1 = _sigmoid64(X.double() @ p["w1"].double() + p["b1"].double())
    return _sigmoid64(a1 @ p["w2"].double() + p["b2"].double())
