"""Data sets the course needs (MNIST), fetched once into a torchvision-style directory."""

from grader.data.mnist import (
    FILES,
    MnistUnavailable,
    default_root,
    ensure_mnist,
    load_split,
    raw_dir,
    verify,
)

__all__ = [
    "FILES",
    "MnistUnavailable",
    "default_root",
    "ensure_mnist",
    "load_split",
    "raw_dir",
    "verify",
]
