"""Issue 4: through `grade`, the reference earns every point and the blank release none."""

from __future__ import annotations

import nbformat
import pytest
from conftest import present_sets

from grader import config
from grader.grade.runner import grade_notebook
from grader.samples import build_submission


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Each set's reference and blank submissions, graded once for all tests here."""
    tmp = tmp_path_factory.mktemp("graded")
    out = {}
    for ps in present_sets():
        for kind, kwargs in (("reference", {}), ("blank", {"answers": "blank"})):
            path = tmp / f"{ps}-{kind}.ipynb"
            nbformat.write(build_submission(ps, **kwargs), path)
            out[ps, kind] = grade_notebook(path, ps, device="cpu")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("ps", present_sets())
def test_reference_scores_every_point(graded, ps):
    result = graded[ps, "reference"]
    failed = [(t.name, t.output) for t in result.tests if not t.passed]
    assert not failed and result.score == result.max_score > 0


@pytest.mark.slow
@pytest.mark.parametrize("ps", present_sets())
def test_blank_release_scores_zero(graded, ps):
    result = graded[ps, "blank"]
    earned = [(t.name, t.score) for t in result.tests if t.score]
    assert not earned
    assert all(t.output for t in result.tests)


@pytest.mark.slow
def test_ps5_threshold_reports_accuracy_confusion_and_profile(graded):
    result = graded["ps5_mnist_cnn", "reference"]
    t = next(t for t in result.tests if "threshold" in t.name)
    profile = config.PROFILES["cpu"]
    assert result.profile == "cpu"
    assert t.extra["accuracy"] >= profile.mnist_threshold
    assert t.extra["plain_accuracy"] > 0.98
    assert len(t.extra["confusion"]) == 10 and sum(map(sum, t.extra["confusion"])) == 10_000
    assert "shifted" in t.output and "plain test digits" in t.output
    assert t.extra["train_seconds"] <= profile.train_budget_s * 1.1 + 5
