"""The examples in the package's docstrings hold, wherever they are written.

Every module of ``grader`` is imported and its doctests run, so an example added to a new
helper is checked without being listed here.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import grader
from grader.sandbox.client import WORKER_FILES

WORKER_SIDE = {name.removesuffix(".py") for name in WORKER_FILES}


def _modules_with_examples() -> list[str]:
    names = []
    finder = doctest.DocTestFinder()
    for info in pkgutil.walk_packages(grader.__path__, "grader."):
        if info.name == "grader.__main__" or info.name.rsplit(".", 1)[-1] in WORKER_SIDE:
            continue   # the command line runs on import; the worker's files run in the sandbox
        module = importlib.import_module(info.name)
        if any(t.examples for t in finder.find(module)):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_the_helpers_that_should_have_examples_do():
    for name in ("grader.course", "grader.autograde.gradebook", "grader.notebooks.guides",
                 "grader.report.markdown", "grader.report.table", "grader.report.pictures"):
        assert name in MODULES, f"{name} lost its docstring examples"


@pytest.mark.parametrize("name", MODULES)
def test_examples_hold(name):
    found = doctest.testmod(importlib.import_module(name))
    assert found.failed == 0
