"""ps5's held-out evaluation: shifted test digits, predictions in batches, accuracy.

Runs in the trusted process. The worker only ever sees the training split and, later,
unlabelled evaluation images; labels, the seed and the test split stay here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .api import StudentError
from .framework import Fail


@dataclass(frozen=True)
class EvaluationData:
    """The training split for the worker and the labelled, shifted test split kept here."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    eval_x: torch.Tensor       # test_x shifted by the course's seed


def evaluation_data(root: Path, seed: int, max_shift: int) -> EvaluationData:
    """MNIST under ``root``, read and shifted once per grading process: a batch grades
    many ps5 notebooks.

    Nothing may modify these tensors; every grading shares them (read-only by convention).
    """
    return _load_evaluation_data(Path(root).resolve(), seed, max_shift)


@lru_cache(maxsize=2)
def _load_evaluation_data(root: Path, seed: int, max_shift: int) -> EvaluationData:
    from ..data.mnist import load_split

    train_x, train_y = load_split(root, train=True)
    test_x, test_y = load_split(root, train=False)
    return EvaluationData(train_x, train_y, test_x, test_y, shift_images(test_x, seed, max_shift))


def shift_images(images: torch.Tensor, seed: int, max_shift: int) -> torch.Tensor:
    """Shift each (N, 28, 28) image by a random (dy, dx) in [-max_shift, max_shift], zero fill."""
    g = torch.Generator().manual_seed(int(seed))
    n, h, w = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=g)
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)
    out = torch.empty_like(images)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            idx = ((offsets[:, 0] == dy) & (offsets[:, 1] == dx)).nonzero().flatten()
            if idx.numel():
                top, left = max_shift - dy, max_shift - dx
                out[idx] = padded[idx, top:top + h, left:left + w]
    return out


def as_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1], the CNN's input contract."""
    return images.unsqueeze(1).float().div_(255.0)


@dataclass
class Evaluation:
    accuracy: float
    confusion: list[list[int]]   # rows: true digit, columns: predicted digit


def evaluate(predictions: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    pred = predictions.long().clamp(0, 9)
    confusion = torch.zeros(10, 10, dtype=torch.long)
    confusion.index_put_((labels.long(), pred), torch.ones_like(pred), accumulate=True)
    accuracy = float((predictions.long() == labels.long()).float().mean())
    return Evaluation(accuracy, confusion.tolist())


def hand_over(ctx, trained, what: str, *, max_parameters: int | None = None):
    """The trained weights, as data, in a fresh model in a fresh worker.

    Work a call starts must not outlive it: a ``train_model`` that returns while a thread
    or a process it started keeps training would escape its budget. So the weights it
    returned with are read at once, the worker that trained (with every thread and process
    in it) is ended, and a new worker evaluates ``build_model()`` loaded with them. Those
    weights are all that crosses, so their size, counted here, is what the model learned.
    """
    from .facts import ModelFacts, shipped_state

    weights, training = shipped_state(ctx, trained, f"{what}'s model")
    n = ModelFacts.of(weights).n_parameters
    if max_parameters is not None and n > max_parameters:
        raise Fail(f"{what}: the trained model has {n:,} numbers in its state_dict (parameters "
                   f"and buffers); the cap is {max_parameters:,}")
    ctx.worker.restart()
    fresh = ctx.student.build_model.options(as_handle=True)()
    try:
        ctx.worker.builtin("load_trained_state", fresh, weights, training, ctx.device)
    except StudentError as exc:
        raise Fail(f"{what}: the trained weights do not load into a new build_model() "
                   f"({exc.type}: {exc.message[:200]}); keep everything the model learns in "
                   "its parameters and buffers") from None
    return fresh
