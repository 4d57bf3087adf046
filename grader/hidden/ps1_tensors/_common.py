"""Shared by the ps1_tensors tests: random shapes and the ValueError checks."""

from __future__ import annotations

import torch


def _random_shape(g: torch.Generator, rank: int, hi: int = 5) -> tuple[int, ...]:
    return tuple(int(v) for v in torch.randint(1, hi + 1, (rank,), generator=g))
