"""Wrong answers for ps4_modules."""

from . import WrongAnswer

CASES: list[WrongAnswer] = []
