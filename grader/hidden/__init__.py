"""Hidden tests, one package per problem set. They run only in the trusted process.

Found by convention, not by a list: the set ``<name>`` (``source/<name>/<name>.ipynb``)
has its tests in ``grader/hidden/<name>/``, a package exposing ``TESTS`` (and optionally
``RULES`` and ``BUDGETS``), so a new set needs no change anywhere else in the grader.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..course import UnknownAssignment
from .framework import HiddenTest

HIDDEN_DIR = Path(__file__).resolve().parent


class NoHiddenTests(UnknownAssignment):
    """A set of the course without its hidden-test package (the CLI exits 2, naming it)."""


def hidden_package(assignment: str) -> ModuleType:
    name = f"{__name__}.{assignment}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise   # the package exists but imports something missing: a real error
        raise NoHiddenTests(f"{assignment} has no hidden tests: create "
                            f"{HIDDEN_DIR / assignment}/__init__.py exposing TESTS "
                            "(`python -m grader new` writes one)") from None
    if not hasattr(module, "TESTS"):
        raise NoHiddenTests(f"{HIDDEN_DIR / assignment}/__init__.py does not expose TESTS")
    return module


def hidden_tests_for(assignment: str) -> list[HiddenTest]:
    return list(hidden_package(assignment).TESTS)


def hidden_budgets_for(assignment: str) -> dict[str, str]:
    """Function name -> what to check when one of its calls runs out of its CPU budget
    (``api.Budgets``): the functions whose every call is budgeted."""
    return dict(getattr(hidden_package(assignment), "BUDGETS", {}))


def hidden_rules_for(assignment: str) -> dict[str, tuple[str, ...]]:
    """Function name -> the rules on *how* enforced while it runs (``sandbox.traps``)."""
    return dict(getattr(hidden_package(assignment), "RULES", {}))
