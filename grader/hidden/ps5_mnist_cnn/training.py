"""ps5 part 6: train_model within its budget, and the accuracy threshold on held-out digits.

The threshold test trains the student's model inside the worker on the training split only,
then evaluates it here on shifted test digits (``mnist_eval``).
"""

from __future__ import annotations

import time

import torch

from ... import config
from ..api import SubmissionTimeout, WorkerTimeout
from ..framework import Fail, Registry, as_tensor, check_shape
from ..mnist_eval import as_model_input, evaluate, evaluation_data, hand_over
from .model import MAX_PARAMETERS

registry = Registry()
TESTS = registry.tests
test = registry.test


# ---------------------------------------------------------------- train_model


def _templates(g: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An easy 10-class task: a bright square at a digit-specific place, plus noise."""
    labels = torch.arange(n) % 10
    images = torch.randint(0, 60, (n, 28, 28), generator=g, dtype=torch.uint8)
    for digit in range(10):
        r, c = 3 + 6 * (digit // 4), 3 + 6 * (digit % 4)
        images[labels == digit, r:r + 6, c:c + 6] = 230
    return images, labels


def budgeted_training(ctx, images, labels, budget: float):
    """``train_model(build_model(), images, labels, device, budget)`` on the profile's clock.

    Returns the trained model (handed over to a fresh worker) and the budget seconds it
    used, measured here: CPU seconds of the whole worker read from the host on the CPU
    profile (a busy neighbour does not change them), wall seconds on the GPU profile. A
    call that runs past the profile's wall-clock cap is stopped and fails.
    """
    profile = ctx.profile
    model = ctx.student.build_model.options(as_handle=True)()
    cpu = profile.budget_clock == "cpu"
    # The clock starts before the data is sent: whatever the worker does once it holds the
    # training set (even inside a rewritten `put`) is spent from the budget.
    start = ctx.worker.cpu_seconds() if cpu else time.perf_counter()
    images, labels = ctx.worker.put(images), ctx.worker.put(labels)
    try:
        trained = ctx.student.train_model.options(
            as_handle=True, timeout=profile.budget_wall_cap(budget))(
            model, images, labels, profile.device, budget)
    except SubmissionTimeout:
        raise
    except WorkerTimeout:
        raise Fail(f"train_model ignored its budget of {budget:g} {_unit(profile)} and was "
                   f"stopped after {profile.budget_wall_cap(budget):g} s on the clock; it must "
                   "return the model before the budget runs out") from None
    used = (ctx.worker.cpu_seconds() if cpu else time.perf_counter()) - start
    return hand_over(ctx, trained, "train_model", max_parameters=MAX_PARAMETERS), used


def _unit(profile) -> str:
    return "CPU seconds" if profile.budget_clock == "cpu" else "seconds"


@test("train_model", 3, "train_model: learns an easy task within its budget")
def train_small_task(ctx) -> None:
    g = ctx.generator()
    images, labels = _templates(g, 1000)
    budget = ctx.profile.quick_budget_s
    trained, elapsed = budgeted_training(ctx, images, labels, budget)
    test_images, test_labels = _templates(g, 300)
    pred = as_tensor(ctx.student.predict(trained, as_model_input(test_images), ctx.device),
                     "predict's result after training")
    accuracy = float((pred.long() == test_labels).float().mean())
    late = elapsed > ctx.profile.budget_tolerance(budget)
    if accuracy < 0.9 or late:
        parts = [f"after training, the model gets {100 * accuracy:.0f}% on an easy task (90% needed)"]
        if late:
            parts.append(f"train_model used {elapsed:.1f} {_unit(ctx.profile)} of a {budget:g} "
                         f"{_unit(ctx.profile)} budget")
        raise Fail("; ".join(parts), 0.5 if accuracy >= 0.5 and not late else 0.0)


THRESHOLD_TEST = "train_model: accuracy on held-out digits (the MNIST threshold)"


@test("train_model", 7, THRESHOLD_TEST, timeout_s=None)
def mnist_threshold(ctx) -> None:
    profile = ctx.profile
    seed, secret = ctx.settings.eval_seed()
    try:
        data = evaluation_data(ctx.settings.data_root, seed, config.MNIST_MAX_SHIFT)
    except Exception as exc:
        raise Fail(f"the grader could not load MNIST ({type(exc).__name__}); "
                   "the instructor must run `python -m grader fetch-data`") from None
    train_x, train_y, test_x, test_y = data.train_x, data.train_y, data.test_x, data.test_y
    eval_x = data.eval_x

    budget = profile.train_budget_s
    trained, train_s = budgeted_training(ctx, train_x, train_y, budget)
    if train_s > profile.budget_tolerance(budget):
        raise Fail(f"train_model used {train_s:.1f} {_unit(profile)} of its {budget:g} "
                   f"{_unit(profile)} budget; it must return the model before the budget runs "
                   "out (the evaluation was not run)")

    def predictions(x: torch.Tensor) -> torch.Tensor:
        out = []
        for first in range(0, x.shape[0], 2500):
            batch = as_model_input(x[first:first + 2500])
            predict = ctx.student.predict.options(timeout=profile.limits.training_call_timeout_s)
            pred = as_tensor(predict(trained, batch, profile.device),
                             "predict's result")
            check_shape(pred, (batch.shape[0],), "predict's result")
            out.append(pred.long())
        return torch.cat(out)

    graded = evaluate(predictions(eval_x), test_y)
    plain = evaluate(predictions(test_x), test_y)
    ctx.facts.update(
        accuracy=round(graded.accuracy, 5), plain_accuracy=round(plain.accuracy, 5),
        threshold=profile.mnist_threshold, floor=profile.mnist_floor, train_seconds=round(train_s, 2),
        budget_seconds=budget, budget_clock=profile.budget_clock, confusion=graded.confusion, secret_seed=secret,
        evaluation=f"the 10,000 MNIST test digits, each shifted by up to "
                   f"{config.MNIST_MAX_SHIFT} pixels in a random direction")
    message, fraction = verdict(profile, graded.accuracy, plain.accuracy, train_s)
    if fraction >= 1.0:
        return message
    raise Fail(message, fraction)


def _percent(x: float) -> str:
    return f"{round(100 * x, 2):g} %"


def grading_bar(profile) -> str:
    """The bar a profile grades MNIST accuracy by, in the words the notebook uses:
    "full marks from 89 %, partial credit from 84 %, on the cpu profile's 90 CPU-second budget"."""
    unit = " CPU-second" if profile.budget_clock == "cpu" else "-second"
    return (f"full marks from {_percent(profile.mnist_threshold)}, partial credit from "
            f"{_percent(profile.mnist_floor)}, on the {profile.name} profile's "
            f"{profile.train_budget_s:g}{unit} budget")


def verdict(profile, accuracy: float, plain_accuracy: float, train_s: float) -> tuple[str, float]:
    """The threshold test's message and the fraction of its points, passed or not."""
    summary = (f"{100 * accuracy:.2f} % on the evaluation set (the 10,000 test digits, each "
               f"shifted by up to {config.MNIST_MAX_SHIFT} pixels; the plain test digits give "
               f"{100 * plain_accuracy:.2f} %), trained in {train_s:.1f} {_unit(profile)}")
    if accuracy >= profile.mnist_threshold:
        return f"passed: {summary}; {grading_bar(profile)}", 1.0
    fraction = (accuracy - profile.mnist_floor) / (profile.mnist_threshold - profile.mnist_floor)
    return (f"{summary}; {grading_bar(profile)} — shifted digits reward convolutions and shift "
            "augmentation", max(0.0, min(1.0, fraction)))
