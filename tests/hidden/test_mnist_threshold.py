"""Issue 5 on the CPU profile: the threshold separates learning from memorising.

(The reference passing the threshold is checked in test_grade_reference.py.)
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import nbformat
import pytest
import torch
from fixtures import ps5_cheats

from grader import config
from grader.baselines import baseline
from grader.config import Settings
from grader.grade.runner import grade_notebook
from grader.hidden.ps5_mnist_cnn import THRESHOLD_TEST as THRESHOLD
from grader.samples import build_submission

PS = "ps5_mnist_cnn"
PROFILE = config.PROFILES["cpu"]


def grade(tmp_path: Path, name: str, replace: dict[str, str], only=None, profile=PROFILE):
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(build_submission(PS, replace=replace), path)
    return grade_notebook(path, PS, profile=profile, only=only)


def threshold_result(result):
    return next(t for t in result.tests if t.name == THRESHOLD)


@pytest.mark.slow
def test_mlp_falls_below_the_threshold(tmp_path):
    result = grade(tmp_path, "mlp", baseline("mlp"), only={THRESHOLD})
    assert [x.name for x in result.tests] == [THRESHOLD]  # picked by name, nothing else ran
    t = threshold_result(result)
    assert not t.passed, t.output
    assert t.extra["accuracy"] < PROFILE.mnist_threshold


@pytest.mark.slow
def test_a_memorised_test_set_is_worth_nothing(tmp_path):
    root = Settings.from_env().data_root
    t = threshold_result(grade(tmp_path, "memorize", ps5_cheats.memorize_test_labels(root),
                               only={THRESHOLD}))
    assert t.score == 0, t.output


@pytest.mark.slow
def test_training_on_the_test_split_read_from_disk_fails(tmp_path):
    t = threshold_result(grade(tmp_path, "test-split", ps5_cheats.train_on_test_split(Settings.from_env().data_root),
                               only={THRESHOLD}))
    assert not t.passed, t.output


@pytest.mark.slow
def test_a_budget_ignorer_is_stopped_and_the_rest_still_graded(tmp_path):
    short = dataclasses.replace(PROFILE, train_budget_s=5.0)
    result = grade(tmp_path, "ignores-budget", ps5_cheats.IGNORES_BUDGET, profile=short)
    t = threshold_result(result)
    assert t.score == 0 and "ignored its budget" in t.output
    others = [x for x in result.tests if x.grade_id not in ("train_model", "test_train_model")]
    assert others and all(x.passed for x in others), [(x.name, x.output) for x in others if not x.passed]


@pytest.mark.slow
def test_training_that_goes_on_after_train_model_returns_is_worth_nothing(tmp_path):
    # The grader keeps the weights train_model returned with and evaluates them in a fresh
    # worker: the thread that kept training dies with the first one.
    short = dataclasses.replace(PROFILE, train_budget_s=3.0, quick_budget_s=2.0)
    result = grade(tmp_path, "background", ps5_cheats.TRAINS_IN_BACKGROUND, profile=short,
                   only={THRESHOLD, "train_model: learns an easy task within its budget"})
    t = threshold_result(result)
    assert t.score == 0 and t.extra["accuracy"] < 0.3, t.output
    easy = next(x for x in result.tests if x.name.startswith("train_model: learns an easy task"))
    assert easy.score == 0, easy.output


def test_the_evaluation_set_is_read_and_shifted_once_per_process():
    from grader.hidden.mnist_eval import evaluation_data, shift_images

    root = Settings.from_env().data_root
    first = evaluation_data(root, 1234, config.MNIST_MAX_SHIFT)
    assert evaluation_data(root, 1234, config.MNIST_MAX_SHIFT) is first  # a batch reuses it
    assert first.train_x.shape == (60000, 28, 28) and first.test_x.shape == (10000, 28, 28)
    assert torch.equal(first.eval_x, shift_images(first.test_x, 1234, config.MNIST_MAX_SHIFT))
    other = evaluation_data(root, 99, config.MNIST_MAX_SHIFT)
    assert not torch.equal(other.eval_x, first.eval_x)  # the seed decides the shifts


def _percent(x: float) -> str:
    return f"{round(100 * x, 2):g} %"


def _ps5_cells() -> dict[str, str]:
    from conftest import ROOT

    from grader.notebooks import cells

    nb = nbformat.read(ROOT / "source/ps5_mnist_cnn/ps5_mnist_cnn.ipynb", as_version=4)
    return {cells.grade_id(c): c.source for c in nb.cells}


def test_the_notebook_states_the_cpu_budget_threshold_and_floor():
    """Students are told every number that decides their grade, on every profile (the GPU's
    marked provisional); a recalibration that changes one must change the notebook too."""
    sources = _ps5_cells()
    training = sources["lesson_training"]
    rows = {line.split("|")[1].strip(" `"): line for line in training.splitlines()
            if line.startswith("| `")}
    assert set(rows) == set(config.PROFILES), rows
    for name, profile in config.PROFILES.items():
        unit = "CPU seconds" if profile.budget_clock == "cpu" else "seconds"
        row = rows[name]
        assert f"**{profile.train_budget_s:g} {unit}**" in row, row
        assert f"**{_percent(profile.mnist_threshold)}**" in row, row
        assert f"**{_percent(profile.mnist_floor)}**" in row, row
        assert f"{profile.quick_budget_s:g} {unit}" in row.split("|")[-2], row
        # how late is too late, and when a call is stopped
        tolerance = (profile.budget_tolerance(1) - profile.budget_tolerance(0), profile.budget_tolerance(0))
        assert f"{tolerance[0]:g} × its budget + {tolerance[1]:g} seconds" in training
        cap = (profile.budget_wall_cap(1) - profile.budget_wall_cap(0), profile.budget_wall_cap(0))
        assert f"{cap[0]:g} × its budget + {cap[1]:g} seconds" in training
    assert "provisional until they are calibrated" in training and "`gpu`" in training
    cpu = config.PROFILES["cpu"]
    assert f"{cpu.train_budget_s:g} CPU seconds" in training

    # The student's own training run uses exactly each profile's graded budget.
    tree = ast.parse(sources["train_own_model"])
    budget = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "TIME_BUDGET_S" for t in node.targets))
    for device, profile in (("cpu", config.PROFILES["cpu"]), ("cuda", config.PROFILES["gpu"])):
        stated = eval(compile(ast.Expression(budget), "train_own_model", "eval"), {"device": device})
        assert stated == profile.train_budget_s, (device, stated)


@pytest.mark.parametrize("name", sorted(config.PROFILES), ids=lambda n: f"{n}-profile")
def test_the_threshold_message_names_the_bar_when_it_passes_and_when_it_fails(name):
    from grader.hidden.ps5_mnist_cnn.training import verdict

    profile = config.PROFILES[name]
    unit = " CPU-second" if profile.budget_clock == "cpu" else "-second"
    bar = (f"full marks from {_percent(profile.mnist_threshold)}, partial credit from "
           f"{_percent(profile.mnist_floor)}, on the {name} profile's "
           f"{profile.train_budget_s:g}{unit} budget")
    high, low = profile.mnist_threshold, profile.mnist_floor
    message, fraction = verdict(profile, high + 0.001, 0.995, profile.train_budget_s - 1)
    assert message.startswith("passed: ") and bar in message and fraction == 1.0, message
    assert "shifted" in message and "plain test digits" in message
    message, fraction = verdict(profile, (high + low) / 2, 0.99, profile.train_budget_s - 1)
    assert bar in message and not message.startswith("passed") and fraction == pytest.approx(0.5)
    assert verdict(profile, low - 0.01, 0.98, 1.0)[1] == 0.0
    if name == "cpu" and profile.train_budget_s == 90 and profile.mnist_threshold == 0.89:
        assert "full marks from 89 %, partial credit from 84 %, on the cpu profile's 90 CPU-second budget" in bar
