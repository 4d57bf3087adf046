"""Grading settings in one place: profiles, limits, the MNIST threshold.

Profiles differ only in how much time and which device a submission gets. The MNIST
threshold numbers come from ``bench/calibrate_threshold.py`` (see docs/threshold.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .sandbox.limits import Limits

SUBMISSION_MAX_BYTES = 5_000_000    # a notebook larger than this is not graded
HIDDEN_SEED_BASE = int(os.environ.get("GRADER_HIDDEN_SEED", "20261126"))


@dataclass(frozen=True)
class Profile:
    name: str
    device: str                     # "cpu" or "cuda"
    train_budget_s: float           # ps5: the student's train_model budget
    call_timeout_s: float = 60.0
    notebook_timeout_s: float = 300.0
    threads: int = 2


PROFILES: dict[str, Profile] = {
    "cpu": Profile("cpu", "cpu", train_budget_s=150.0, threads=2),
    "gpu": Profile("gpu", "cuda", train_budget_s=12.0, threads=2),
}


def resolve_profile(device: str = "auto") -> Profile:
    """``auto`` picks the GPU profile when CUDA is usable in this process."""
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return PROFILES["gpu" if device == "cuda" else "cpu"]


def limits_for(profile: Profile, *, cuda_slot: str | None = None,
               memory_fraction: float | None = None) -> Limits:
    return Limits(
        call_timeout_s=profile.call_timeout_s,
        notebook_timeout_s=profile.notebook_timeout_s,
        threads=profile.threads,
        cuda_device=(cuda_slot or "0") if profile.device == "cuda" else "",
        cuda_memory_fraction=memory_fraction,
    )
