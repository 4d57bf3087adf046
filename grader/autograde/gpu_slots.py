"""GPU shares for concurrent workers: which card each worker sees, and how much of it.

Small MNIST models leave an H100 mostly idle, so several workers share one card. Each
worker is started with ``CUDA_VISIBLE_DEVICES`` naming one card and a per-process memory
fraction of ``1/per_gpu`` of it (less a little headroom), so one student's runaway
allocation fails in that student's worker instead of starving the others. Slots are handed
out round-robin across cards, so a batch smaller than the machine spreads evenly. The same
shares map onto Ray's fractional ``num_gpus`` when grading goes past one machine
(``ray_backend``: Ray picks the card, ``memory_share`` sizes the worker's part of it).
"""

from __future__ import annotations

import math
import os
import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..config import GpuSlot

HEADROOM = 0.95   # the CUDA context and the allocator's own bookkeeping live outside the share


def memory_share(per_gpu: int) -> float:
    """The fraction of a card's memory each of ``per_gpu`` workers on it may take.

    >>> memory_share(4)
    0.2375
    """
    return round(HEADROOM / per_gpu, 4)


class GpuSlots:
    """A fixed set of GPU shares that concurrent gradings lease one at a time."""

    def __init__(self, devices: Sequence[str], per_gpu: int) -> None:
        if not devices:
            raise ValueError("no GPU to share: pass at least one device")
        if per_gpu < 1:
            raise ValueError(f"workers per GPU must be at least 1, got {per_gpu}")
        self.devices = list(devices)
        self.per_gpu = per_gpu
        fraction = memory_share(per_gpu)
        self.slots = [GpuSlot(d, fraction, i) for i in range(per_gpu) for d in self.devices]
        self._free: queue.Queue[GpuSlot] = queue.Queue()
        for slot in self.slots:
            self._free.put(slot)

    def __len__(self) -> int:
        return len(self.slots)

    @classmethod
    def for_jobs(cls, jobs: int, per_gpu: int | None = None,
                 devices: Sequence[str] | None = None) -> GpuSlots:
        """Enough shares for ``jobs`` concurrent workers on this machine's GPUs.

        ``per_gpu`` caps how many share one card; by default the jobs are spread evenly.
        """
        devices = list(devices) if devices is not None else visible_devices()
        if not devices:
            raise RuntimeError("CUDA was asked for, but this process sees no GPU")
        per_gpu = per_gpu or max(1, math.ceil(jobs / len(devices)))
        return cls(devices, per_gpu)

    @contextmanager
    def lease(self, timeout: float | None = None) -> Iterator[GpuSlot]:
        """Hold one share while a worker runs; waits when every share is in use."""
        slot = self._free.get(timeout=timeout)
        try:
            yield slot
        finally:
            self._free.put(slot)


@contextmanager
def leased(slots: GpuSlots | None) -> Iterator[GpuSlot | None]:
    """A share from ``slots`` for the duration, or None when grading on the CPU."""
    if slots is None:
        yield None
    else:
        with slots.lease() as slot:
            yield slot


def visible_devices() -> list[str]:
    """The cards this process may hand out, as the names CUDA_VISIBLE_DEVICES uses."""
    named = os.environ.get("CUDA_VISIBLE_DEVICES")
    if named is not None:
        return [d.strip() for d in named.split(",") if d.strip() and d.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
