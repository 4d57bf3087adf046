"""The hidden tests as a whole: points add up, names are unique, nothing is left out."""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT, present_sets

from grader.hidden import hidden_tests_for
from grader.hidden.framework import Fail, score_fraction
from grader.notebooks import cells


@pytest.mark.parametrize("ps", present_sets())
def test_points_per_grade_id_match_the_answer_cells(ps):
    nb = nbformat.read(ROOT / "source" / ps / f"{ps}.ipynb", as_version=4)
    cell_points = {cells.grade_id(c): cells.points(c) for c in nb.cells if cells.is_code_solution(c)}
    totals: dict[str, float] = {}
    for t in hidden_tests_for(ps):
        totals[t.grade_id] = totals.get(t.grade_id, 0.0) + t.points
    assert totals == pytest.approx(cell_points)


@pytest.mark.parametrize("ps", present_sets())
def test_hidden_test_names_are_unique_and_say_what_they_test(ps):
    names = [t.name for t in hidden_tests_for(ps)]
    assert len(names) == len(set(names))
    for t in hidden_tests_for(ps):
        assert t.name.startswith(f"{t.grade_id}: "), t.name


def test_partial_credit_messages_keep_braces_from_student_values():
    with pytest.raises(Fail) as info:
        score_fraction(1, 4, "right for {passed} of {total}: got {'w': 1} and {1, 2}")
    assert info.value.message == "right for 1 of 4: got {'w': 1} and {1, 2}"
    assert info.value.fraction == 0.25
    score_fraction(3, 3, "all {passed} right: {not a field}")  # nothing to report
