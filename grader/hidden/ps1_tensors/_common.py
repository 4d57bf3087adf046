"""Shared by the ps1_tensors tests: random shapes and the ValueError checks."""

from __future__ import annotations

import torch

from ..api import StudentError
from ..framework import Fail, describe_value


def _random_shape(g: torch.Generator, rank: int, hi: int = 5) -> tuple[int, ...]:
    return tuple(int(v) for v in torch.randint(1, hi + 1, (rank,), generator=g))


def _not_a_value_error(call) -> str | None:
    """None when ``call()`` raises ValueError; otherwise what it did instead, in words."""
    try:
        result = call()
    except ValueError:
        return None
    except StudentError as exc:
        return f"it raised {exc.type} instead"
    return f"it returned {describe_value(result)} instead"


def _value_errors(cases: list[tuple[str, object]], expected: str) -> None:
    """Each case is (what the bad input is, in words; a call): all must raise ValueError."""
    missed = [(what, instead) for what, call in cases
              if (instead := _not_a_value_error(call)) is not None]
    if not missed:
        return
    if len({instead for _, instead in missed}) == 1:   # one reason: say it once
        detail = ", ".join(what for what, _ in missed) + f" ({missed[0][1]})"
    else:
        detail = "; ".join(f"{what} ({instead})" for what, instead in missed)
    raise Fail(f"{expected}; it did not for {detail}", (len(cases) - len(missed)) / len(cases))
