"""Wrong answers for ps3_backprop."""

from . import WrongAnswer

CASES: list[WrongAnswer] = []
