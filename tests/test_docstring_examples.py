"""The examples in the docstrings of the course's small helpers hold (names, points, tables)."""

from __future__ import annotations

import doctest

import pytest

from grader import course
from grader.autograde import standing
from grader.notebooks import guides
from grader.report import markdown, table


@pytest.mark.parametrize("module", [course, standing, guides, markdown, table],
                         ids=lambda m: m.__name__)
def test_examples_hold(module):
    found = doctest.testmod(module)
    assert found.attempted > 0, f"{module.__name__} has no examples"
    assert found.failed == 0
