"""Hidden tests for ps5_mnist_cnn: convolution and pooling by hand, the CNN, training.

The accuracy threshold (train_model) trains the student's model inside the worker on the
training split only, then evaluates it here on shifted test digits (``mnist_eval``).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from .. import config
from ..course import Course
from ..sandbox.client import SubmissionTimeout, WorkerTimeout
from . import static
from .facts import ModelFacts, output_depends_on, shipped_state
from .framework import Fail, Registry, as_tensor, by_hand, check_close, check_shape, score_fraction
from .mnist_eval import as_model_input, confusion_png, evaluate, evaluation_data, hand_over

RULES = {"conv2d_single": ("convolution",), "max_pool2d_single": ("pooling",)}  # enforced while they run
registry = Registry()
TESTS = registry.tests
test = registry.test

MAX_PARAMETERS = 2_000_000


# ---------------------------------------------------------------- conv_output_size


@test("conv_output_size", 1, "conv_output_size: the lecture's examples")
def output_size_lecture(ctx) -> None:
    cases = [((227, 11, 4, 0), 55), ((64, 7, 2, 0), 29), ((32, 5, 1, 0), 28), ((64, 5, 1, 0), 60)]
    ok = sum(ctx.student.conv_output_size(*args) == want for args, want in cases)
    score_fraction(ok, len(cases), "conv_output_size is right for {passed} of {total} of the "
                                   "lecture's examples")


@test("conv_output_size", 2, "conv_output_size: random sizes, strides and padding")
def output_size_random(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 24
    mistakes = {"padding once": 0, "no +1": 0}
    for _ in range(total):
        n, k, s, p = (int(v) for v in (torch.randint(5, 64, (1,), generator=g),
                                       torch.randint(1, 6, (1,), generator=g),
                                       torch.randint(1, 4, (1,), generator=g),
                                       torch.randint(0, 3, (1,), generator=g)))
        want = (n + 2 * p - k) // s + 1
        got = ctx.student.conv_output_size(n, k, s, p)
        ok += got == want
        if got != want:
            mistakes["padding once"] += got == (n + p - k) // s + 1
            mistakes["no +1"] += got == want - 1
    if ok < total:
        wrong = total - ok
        if mistakes["no +1"] == wrong:
            hint, credit = " — every answer is one too small: the first window position counts too (+1)", 0.25
        elif mistakes["padding once"] == wrong:
            hint, credit = " — padding adds p pixels on BOTH sides: n + 2p", 0.25
        else:
            hint, credit = " — the formula is floor((n + 2p - k) / s) + 1", 0.0
        raise Fail(f"conv_output_size is right for {ok} of {total} random cases{hint}",
                   max(ok / total, credit))


# ---------------------------------------------------------------- conv2d_single


def _conv_cases(ctx, cases, what: str) -> None:
    for i, (image, kernel, stride, padding) in enumerate(cases):
        want = F.conv2d(image[None, None].double(), kernel[None, None].double(),
                        stride=stride, padding=padding)[0, 0]
        got = ctx.student.conv2d_single(image, kernel, stride, padding)
        flipped = F.conv2d(image[None, None].double(), kernel.flip(0, 1)[None, None].double(),
                           stride=stride, padding=padding)[0, 0]
        if isinstance(got, torch.Tensor) and got.shape == want.shape and kernel.numel() > 1 \
                and torch.allclose(got.double(), flipped, atol=1e-4) \
                and not torch.allclose(got.double(), want, atol=1e-4):
            raise Fail("the kernel is flipped: that is a true convolution, but PyTorch's Conv2d "
                       "(and this function) computes cross-correlation without flipping", 0.3)
        check_close(got, want.to(image.dtype) if image.is_floating_point() else want.float(),
                    f"{what} (case {i + 1}: stride {stride}, padding {padding})", atol=1e-4,
                    rtol=1e-4)


@test("conv2d_single", 1.5, "conv2d_single: random images and kernels")
def conv_random(ctx) -> None:
    g = ctx.generator()
    cases = []
    for _ in range(4):
        h, w = (int(v) for v in torch.randint(5, 12, (2,), generator=g))
        kh, kw = (int(v) for v in torch.randint(1, 5, (2,), generator=g))
        cases.append((torch.randn(h, w, generator=g), torch.randn(kh, kw, generator=g), 1, 0))
    _conv_cases(ctx, cases, "the cross-correlation")


@test("conv2d_single", 1.5, "conv2d_single: stride and zero padding")
def conv_stride_padding(ctx) -> None:
    g = ctx.generator()
    cases = []
    for stride, padding in ((2, 0), (1, 1), (2, 1), (3, 2)):
        h, w = (int(v) for v in torch.randint(6, 13, (2,), generator=g))
        cases.append((torch.randn(h, w, generator=g), torch.randn(3, 3, generator=g), stride, padding))
    _conv_cases(ctx, cases, "the cross-correlation")


@test("conv2d_single", 0.5, "conv2d_single: float64 and integer inputs")
def conv_dtypes(ctx) -> None:
    g = ctx.generator()
    image = torch.randn(6, 7, generator=g, dtype=torch.float64)
    kernel = torch.randn(3, 2, generator=g, dtype=torch.float64)
    _conv_cases(ctx, [(image, kernel, 1, 1)], "the float64 result")
    ints = torch.randint(0, 5, (5, 5), generator=g)
    got = as_tensor(ctx.student.conv2d_single(ints, torch.ones(3, 3, dtype=torch.long), 1, 0),
                    "the result for integer inputs")
    want = F.conv2d(ints[None, None].double(), torch.ones(1, 1, 3, 3, dtype=torch.double))[0, 0]
    check_close(got.double(), want, "the result for integer inputs")


@test("conv2d_single", 1.5, "conv2d_single: computed by hand, no library convolution",
      kind="static")
def conv_by_hand(ctx) -> None:
    by_hand(ctx, static.LIBRARY_CONVOLUTION, "conv2d_single must slide the kernel itself")


# ---------------------------------------------------------------- max_pool2d_single


@test("max_pool2d_single", 1.5, "max_pool2d_single: random maps")
def pool_random(ctx) -> None:
    g = ctx.generator()
    for k in (2, 3):
        x = torch.randn(4 * k, 2 * k, generator=g)
        want = F.max_pool2d(x[None, None], k)[0, 0]
        check_close(ctx.student.max_pool2d_single(x, k), want, f"max pooling with a {k}x{k} window")


@test("max_pool2d_single", 1, "max_pool2d_single: sizes that do not divide evenly")
def pool_remainder(ctx) -> None:
    g = ctx.generator()
    x = torch.randn(7, 9, generator=g)
    got = as_tensor(ctx.student.max_pool2d_single(x, 2), "the pooled map")
    check_shape(got, (3, 4), "max_pool2d_single of a 7x9 map with a 2x2 window (leftover rows "
                             "and columns are dropped)")
    if torch.allclose(got, F.avg_pool2d(x[None, None], 2)[0, 0], atol=1e-5):
        raise Fail("the windows are right but averaged: max pooling keeps each window's maximum", 0.5)
    check_close(got, F.max_pool2d(x[None, None], 2)[0, 0], "the pooled values",
                fraction_if_close=0.5, loose=10.0)


@test("max_pool2d_single", 0.5, "max_pool2d_single: no library pooling", kind="static")
def pool_by_hand(ctx) -> None:
    by_hand(ctx, static.LIBRARY_POOLING,
            "max_pool2d_single should take window maxima itself")


# ---------------------------------------------------------------- CNN and build_model


def _claimed_class(ctx, model) -> dict:
    """What the worker says the object is: enough for a clear message, never for points."""
    info = ctx.session.describe(model)
    if "torch.nn.modules.module.Module" not in info.get("mro", []):
        raise Fail(f"the model should be an nn.Module, but it is a {info.get('type')}")
    return info


def _check_cap(facts: ModelFacts, what: str) -> None:
    if facts.n_parameters > MAX_PARAMETERS:
        raise Fail(f"{what} has {facts.n_parameters:,} numbers in its state_dict (parameters and "
                   f"buffers); the cap is {MAX_PARAMETERS:,}")


@test("CNN", 1.5, "CNN: an nn.Module with convolutions and at most 2M parameters")
def cnn_structure(ctx) -> None:
    model = ctx.student.CNN.options(as_handle=True)()
    _claimed_class(ctx, model)
    state, _ = shipped_state(ctx, model, "CNN()")
    facts = ModelFacts.of(state)       # counted here, from the tensors themselves
    _check_cap(facts, "the CNN")
    if not facts.kernels:
        raise Fail("the CNN should contain at least one nn.Conv2d layer (its state_dict holds no "
                   "4-D convolution kernel)")
    x = torch.rand(4, 1, 28, 28, generator=ctx.generator())
    if not output_depends_on(model, state, facts.kernels, x):
        raise Fail("the CNN's output does not change when its convolution kernels are zeroed: "
                   "the logits must be computed by the layers it holds")


@test("CNN", 1.5, "CNN: (N, 1, 28, 28) images in [0, 1] give (N, 10) logits")
def cnn_forward(ctx) -> None:
    g = ctx.generator()
    model = ctx.student.CNN()
    model.eval()
    for n in (1, 7):
        out = as_tensor(model(torch.rand(n, 1, 28, 28, generator=g)), "the CNN's output")
        check_shape(out, (n, 10), f"the CNN's output for {n} images")
        if not torch.isfinite(out).all():
            raise Fail("the CNN's logits contain NaN or infinite values")


@test("CNN", 1, "CNN: logits depend on the image")
def cnn_depends_on_input(ctx) -> None:
    g = ctx.generator()
    model = ctx.student.CNN()
    model.eval()
    x = torch.rand(4, 1, 28, 28, generator=g)
    out = as_tensor(model(x), "the CNN's output")
    if out.shape != (4, 10) or torch.allclose(out[0], out[1:], atol=1e-7):
        raise Fail("the CNN gives the same logits for different images")


@test("build_model", 1, "build_model: a fresh CNN on every call")
def build_model_fresh(ctx) -> None:
    a, b = (ctx.student.build_model.options(as_handle=True)() for _ in range(2))
    info = _claimed_class(ctx, a)
    if not any(name.endswith(".CNN") for name in info["mro"]):
        raise Fail(f"build_model should return a CNN, not a {info['type']}")
    (sa, _), (sb, _) = shipped_state(ctx, a, "build_model()"), shipped_state(ctx, b, "build_model()")
    if ModelFacts.of(sa).shapes != ModelFacts.of(sb).shapes:
        raise Fail("two calls to build_model give models with different layers")
    a.load_state_dict({k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in sa.items()})
    sb_after, _ = shipped_state(ctx, b, "build_model()")
    if not all(torch.equal(sb[k], sb_after[k]) for k in sb):
        raise Fail("changing one model from build_model changed another: every call must build "
                   "a new CNN with its own weights")


@test("build_model", 1, "build_model: within the parameter cap")
def build_model_cap(ctx) -> None:
    model = ctx.student.build_model.options(as_handle=True)()
    state, _ = shipped_state(ctx, model, "build_model()")
    _check_cap(ModelFacts.of(state), "build_model's network")


# ---------------------------------------------------------------- predict and evaluate_accuracy


def _probe(ctx, g):
    weight, bias = torch.randn(10, 784, generator=g), torch.randn(10, generator=g)
    return ctx.session.builtin("linear_probe", weight, bias, as_handle=True), weight, bias


@test("predict", 2, "predict: one label per image, the argmax of the logits")
def predict_values(ctx) -> None:
    g = ctx.generator()
    model, weight, bias = _probe(ctx, g)
    for n in (5, 2345):
        images = torch.rand(n, 1, 28, 28, generator=g)
        got = as_tensor(ctx.student.predict(model, images, ctx.device), "predict's result")
        check_shape(got, (n,), f"predict for {n} images")
        want = (images.flatten(1) @ weight.T + bias).argmax(dim=1)
        wrong = int((got.long() != want).sum())
        if wrong:
            raise Fail(f"predict gives the wrong label for {wrong} of {n} images "
                       "(it should be the index of the largest logit)", 0.25)


@test("predict", 1, "predict: returns int64 labels")
def predict_dtype(ctx) -> None:
    g = ctx.generator()
    model, _, _ = _probe(ctx, g)
    got = as_tensor(ctx.student.predict(model, torch.rand(3, 1, 28, 28, generator=g), ctx.device),
                    "predict's result")
    if got.dtype != torch.int64:
        raise Fail(f"predict should return int64 labels (a LongTensor), not {got.dtype}")


@test("evaluate_accuracy", 2, "evaluate_accuracy: the fraction of correct predictions")
def accuracy_values(ctx) -> None:
    g = ctx.generator()
    model, weight, bias = _probe(ctx, g)
    images = torch.rand(500, 1, 28, 28, generator=g)
    pred = (images.flatten(1) @ weight.T + bias).argmax(dim=1)
    labels = torch.where(torch.rand(500, generator=g) < 0.6, pred, (pred + 1) % 10)
    want = float((pred == labels).float().mean())
    got = ctx.student.evaluate_accuracy(model, images, labels, ctx.device)
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if not isinstance(got, float):
        raise Fail(f"evaluate_accuracy should return a Python float, not a {type(got).__name__}")
    if abs(got - 100 * want) < 1e-4:
        raise Fail("evaluate_accuracy returns a percentage; it should be a fraction between 0 and 1",
                   0.5)
    if abs(got - want) > 1e-6:
        hint = " (a fraction between 0 and 1, not a percentage or a count)" if got > 1 else ""
        raise Fail(f"evaluate_accuracy is off by {abs(got - want):.3g}{hint}")


@test("evaluate_accuracy", 1, "evaluate_accuracy: all right and all wrong")
def accuracy_edges(ctx) -> None:
    g = ctx.generator()
    model, weight, bias = _probe(ctx, g)
    images = torch.rand(20, 1, 28, 28, generator=g)
    pred = (images.flatten(1) @ weight.T + bias).argmax(dim=1)
    right = ctx.student.evaluate_accuracy(model, images, pred, ctx.device)
    wrong = ctx.student.evaluate_accuracy(model, images, (pred + 3) % 10, ctx.device)
    if float(right) != 1.0 or float(wrong) != 0.0:
        raise Fail("evaluate_accuracy should be 1.0 when every label is right and 0.0 when none is")


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
    start = ctx.session.cpu_seconds() if cpu else time.perf_counter()
    images, labels = ctx.session.put(images), ctx.session.put(labels)
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
    used = (ctx.session.cpu_seconds() if cpu else time.perf_counter()) - start
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
    seed, secret = config.eval_seed(Course.from_env().root)
    try:
        data = evaluation_data(seed, config.MNIST_MAX_SHIFT)
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
    summary = (f"{100 * graded.accuracy:.2f}% on the evaluation set (the 10,000 test digits, each "
               f"shifted by up to {config.MNIST_MAX_SHIFT} pixels; the plain test digits give "
               f"{100 * plain.accuracy:.2f}%), trained in {train_s:.0f} of a {budget:g} "
               f"{_unit(profile)} budget")
    if graded.accuracy >= profile.mnist_threshold:
        return f"passed: {summary}"
    fraction = (graded.accuracy - profile.mnist_floor) / (profile.mnist_threshold - profile.mnist_floor)
    raise Fail(f"{summary}; full points from {100 * profile.mnist_threshold:.0f}%, partial credit "
               f"from {100 * profile.mnist_floor:.0f}% — shifted digits reward convolutions and "
               "shift augmentation", max(0.0, min(1.0, fraction)))


def confusion_picture(facts: dict) -> bytes | None:
    if "confusion" not in facts:
        return None
    return confusion_png(facts["confusion"], f"evaluation set: {100 * facts['accuracy']:.2f}%")
