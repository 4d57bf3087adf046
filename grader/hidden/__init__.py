"""Hidden tests, one module per problem set. They run only in the trusted process."""

from __future__ import annotations

import importlib

from .framework import HiddenTest


def hidden_tests_for(assignment: str) -> list[HiddenTest]:
    module = importlib.import_module(f"{__name__}.{assignment}")
    return list(module.TESTS)


def hidden_rules_for(assignment: str) -> dict[str, tuple[str, ...]]:
    """Function name -> the rules on *how* enforced while it runs (``sandbox.traps``)."""
    module = importlib.import_module(f"{__name__}.{assignment}")
    return dict(getattr(module, "RULES", {}))
