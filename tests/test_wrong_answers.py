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


def _batches(cases):
    """Group cases so that each submission changes every grade_id at most once."""
    batches: list[list] = []
    for case in cases:
        for batch in batches:
            if all(c.grade_id != case.grade_id for c in batch):
                batch.append(case)
                break
        else:
            batches.append([case])
    return batches


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    tmp = tmp_path_factory.mktemp("wrong")
    for ps in present_sets():
        cases = [c for p, c in CASES if p == ps]
        for i, batch in enumerate(_batches(cases)):
            nb = build_submission(
                ps,
                substitutions={c.grade_id: list(c.subs) for c in batch if c.subs},
                replace={c.grade_id: c.replace for c in batch if c.replace is not None},
            )
            path = Path(tmp) / f"{ps}-{i}.ipynb"
            nbformat.write(nb, path)
            result = grade_notebook(path, ps, device="cpu")
            for c in batch:
                out[c.id] = (result, c)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("ps,case", CASES, ids=[c.id for _, c in CASES])
def test_wrong_answer_gets_partial_credit_and_message(ps, case, graded):
    result, _ = graded[case.id]
    hidden = [t for t in result.tests if t.grade_id == case.grade_id]
    score = sum(t.score for t in hidden)
    maximum = sum(t.max_score for t in hidden)
    messages = " | ".join(t.output for t in hidden)
    assert 0 < score < maximum, f"{case.id}: {score}/{maximum}: {messages}"
    assert case.expect in messages, f"{case.id}: expected {case.expect!r} in {messages}"
