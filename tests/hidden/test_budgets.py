"""Issue 13: a wrong answer costs a bounded multiple of a right one.

Hidden tests that iterate a student's code (ps3's ``train_xor``) give each call a CPU
budget: the reference's cost of the same call, measured by the grader, times
``Limits.budget_factor``. A train_xor whose backward is wrong never reaches a low loss and
restarts twenty times per call; it is stopped at the budget once (the public test's call is
budgeted alike: the set's ``BUDGETS`` name the function, not a test), and train_xor's other
tests are not run again. (``bench/wrong_answer_cost.py`` measures the whole notebook.)
"""

from __future__ import annotations

import types
from pathlib import Path

import nbformat

from grader import config
from grader.grade.runner import grade_notebook
from grader.hidden.api import Context, reference_cpu_seconds
from grader.samples import build_submission

PS3 = "ps3_backprop"


def _context(ref, **limits) -> Context:
    profile = config.resolve_profile("cpu").with_limits(**limits)
    return Context(worker=None, settings=None, student=None, ref=ref, solutions={},
                   profile=profile, test=None, seed=0)


def test_the_budget_is_the_references_cost_times_the_factor_with_a_floor():
    ref = types.SimpleNamespace(__file__="budget-demo", spin=lambda n: sum(range(n)))
    cost = reference_cpu_seconds(ref, "spin", n=3 * 10**6)
    assert cost > 0
    assert reference_cpu_seconds(ref, "spin", n=3 * 10**6) == cost      # measured once
    big = _context(ref, budget_factor=4.0, budget_floor_cpu_s=0.0)
    assert big.cpu_budget("spin", n=3 * 10**6) == 4.0 * cost
    floor = _context(ref, budget_factor=4.0, budget_floor_cpu_s=1e6)
    assert floor.cpu_budget("spin", n=3 * 10**6) == 1e6


def test_a_train_xor_that_never_converges_is_stopped_once_at_its_budget(tmp_path):
    nb = build_submission(PS3, substitutions={
        "backward": [("d_z1 = d_a1 * a1 * (1.0 - a1)", "d_z1 = d_a1")]})
    path = Path(tmp_path) / "ps3-wrong-backward.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(path, PS3, device="cpu", only={"train_xor"})
    hidden = {t.name: t for t in result.tests if t.grade_id == "train_xor" and t.kind != "public"}
    public = next(t for t in result.tests if t.name == "public: test_train_xor")
    assert public.score == 0 and public.output.startswith("train_xor() was stopped after"), (
        public.output)
    default = hidden["train_xor: the default call solves XOR"]
    assert default.score == 0
    assert "train_xor() was stopped after" in default.output, default.output
    assert "times what the reference needs for the same call" in default.output
    assert "backward pass their tests" in default.output
    for name in ("train_xor: four hidden units and another seed",
                 "train_xor: the same arguments give the same result"):
        assert hidden[name].score == 0
        assert hidden[name].output.startswith("not run: train_xor() was stopped"), hidden[name].output
