"""Wrong answers for ps5_mnist_cnn."""

from . import WrongAnswer

CASES: list[WrongAnswer] = []
