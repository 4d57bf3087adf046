"""Wrong answers for ps2_gradients."""

from . import WrongAnswer

CASES: list[WrongAnswer] = []
