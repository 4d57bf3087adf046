"""Issue 4: plausible wrong answers earn partial credit with the right message."""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest
from conftest import present_sets

from grader.grade.runner import grade_notebook
from grader.samples import build_submission

CASES = [(ps, case) for ps in present_sets()
         for case in importlib.import_module(f"corpus.{ps}").CASES]


def test_corpus_is_large_enough():
    assert len(CASES) >= 25, f"only {len(CASES)} wrong answers in tests/corpus"


@pytest.mark.slow
@pytest.mark.parametrize("ps,case", CASES, ids=[f"{ps}-{c.id}" for ps, c in CASES])
def test_wrong_answer_gets_partial_credit_and_message(ps, case, tmp_path):
    # One submission per case (answers call each other, so mistakes must not mix); only the
    # touched grade_id is graded, which keeps this fast.
    nb = build_submission(ps, substitutions={case.grade_id: list(case.subs)} if case.subs else None,
                          replace={case.grade_id: case.replace} if case.replace is not None else None)
    path = Path(tmp_path) / f"{ps}-{case.id}.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(path, ps, device="cpu", only={case.grade_id})
    hidden = [t for t in result.tests if t.grade_id == case.grade_id]
    score = sum(t.score for t in hidden)
    maximum = sum(t.max_score for t in hidden)
    messages = " | ".join(t.output for t in hidden)
    assert 0 < score < maximum, f"{case.id}: {score}/{maximum}: {messages}"
    assert case.expect in messages, f"{case.id}: expected {case.expect!r} in {messages}"
