"""Issue 12, ps1_tensors: the intro block, the "Graded" lines, and rules/ValueErrors that cost
exactly their own points.

``check_intro`` (``tests/conventions.py``) is checked on every set in ``test_teaching.py``;
here are ps1's own checks and the checker's own test.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from conventions import SECTIONS, check_intro
from corpus import ps1_tensors as corpus

from grader import config
from grader.grade.runner import grade_notebook
from grader.hidden import hidden_tests_for
from grader.notebooks import cells
from grader.samples import build_submission

PS = "ps1_tensors"
def _source(ps: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "source" / ps / f"{ps}.ipynb", as_version=4)


def test_ps1_intro_follows_the_convention():
    assert check_intro(_source(PS)) == []


def test_check_intro_finds_a_wrong_point_count_and_a_missing_glossary():
    nb = _source(PS)
    broken = copy.deepcopy(nb)
    broken.cells[0].source = broken.cells[0].source.replace("| `one_hot`, with a `ValueError` | 3 |",
                                                            "| `one_hot`, with a `ValueError` | 4 |")
    assert any("one_hot has 3 points" in p for p in check_intro(broken)), check_intro(broken)
    broken.cells[0].source = nb.cells[0].source.split("**Glossary / 용어.**")[0]
    assert check_intro(broken) == [f"the intro lacks {SECTIONS[-1]}"]


def test_ps1_intro_states_the_graders_limits():
    intro = _source(PS).cells[0].source
    assert f"{config.SUBMISSION_MAX_BYTES / 1e6:g} MB" in intro
    assert f"{config.PROFILES['cpu'].limits.call_timeout_s:g} seconds" in intro


def test_ps1_graded_lines_list_the_hidden_tests_and_their_points():
    # "**Graded (4 points):** ... (1.5); ... (0.5); ..." under each exercise: one number per
    # hidden test, in the registry's order, adding up to the cell's points.
    nb = _source(PS)
    points = {cells.grade_id(c): cells.points(c) for c in nb.cells if cells.is_code_solution(c)}
    tests = hidden_tests_for(PS)
    found = {}
    for cell in nb.cells:
        exercise = re.search(r"### Exercise \d+ — `(\w+)`", cell.source)
        graded = re.search(r"\*\*Graded \((\d+(?:\.\d+)?) points?\):\*\*(.*?)(?:\n\n|$)", cell.source, re.S)
        if exercise and graded:
            found[exercise.group(1)] = (float(graded.group(1)),
                                        [float(x) for x in re.findall(r"\((\d+(?:\.\d+)?)\)[;.]", graded.group(2))])
    assert sorted(found) == sorted(points)
    for gid, (total, parts) in found.items():
        assert total == points[gid], gid
        assert parts == [t.points for t in tests if t.grade_id == gid], gid


# Each case loses its own test (all its points) and nothing else of its grade_id.
LOSES = {
    "broadcast_forgets_value_error": "broadcast_shape: incompatible shapes raise ValueError",
    "pairwise_uses_cdist": "pairwise_sq_dists: no torch.cdist or other library distance",
    "pairwise_uses_pairwise_distance": "pairwise_sq_dists: no torch.cdist or other library distance",
    "to_batches_forgets_divisibility": "to_batches: ValueError when N is not divisible",
    "to_batches_forgets_positive_batch_size": "to_batches: ValueError when batch_size <= 0",
    "one_hot_library_without_check": "one_hot: ValueError for labels outside [0, num_classes)",
    "one_hot_forgets_range_check": "one_hot: ValueError for labels outside [0, num_classes)",
}
GROUPS = [("broadcast_forgets_value_error", "pairwise_uses_cdist",
           "to_batches_forgets_positive_batch_size", "one_hot_library_without_check"),
          ("pairwise_uses_pairwise_distance", "to_batches_forgets_divisibility",
           "one_hot_forgets_range_check")]


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS, ids=["A", "B"])
def test_rules_and_value_errors_cost_exactly_their_own_points(group, tmp_path):
    cases = [c for c in corpus.CASES if c.id in group]
    assert len(cases) == len(group) and len({c.grade_id for c in cases}) == len(cases)
    nb = build_submission(PS, substitutions={c.grade_id: list(c.subs) for c in cases if c.subs} or None,
                          replace={c.grade_id: c.replace for c in cases if c.replace is not None})
    path = Path(tmp_path) / "mistakes.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(path, PS, device="cpu", only={c.grade_id for c in cases})
    lost = {t.name for t in result.tests if t.kind != "public" and t.score < t.max_score}
    assert lost == {LOSES[c.id] for c in cases}, [(t.name, t.score, t.output) for t in result.tests]
    assert all(t.score == 0 for t in result.tests if t.name in lost)
