"""ps5 parts 4-5: the CNN and build_model (facts from its state_dict), predict and accuracy."""

from __future__ import annotations

import torch

from ..api import StudentError
from ..facts import ModelFacts, output_depends_on, shipped_state
from ..framework import Fail, Registry, as_tensor, check_shape

registry = Registry()
TESTS = registry.tests
test = registry.test

MAX_PARAMETERS = 2_000_000


# ---------------------------------------------------------------- CNN and build_model


def _claimed_class(ctx, model) -> dict:
    """What the worker says the object is: enough for a clear message, never for points."""
    info = ctx.worker.describe(model)
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
    return ctx.worker.builtin("linear_probe", weight, bias, as_handle=True), weight, bias


def _reference_labels(ctx, weight, bias, images) -> torch.Tensor:
    """The reference predict's labels for ``images`` with the probe's weights, computed here."""
    probe = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(weight.shape[1], weight.shape[0]))
    with torch.no_grad():
        probe[1].weight.copy_(weight)
        probe[1].bias.copy_(bias)
    return ctx.ref.predict(probe, images, "cpu").long()


def _labels_fail(got, right, rescaled, n, what: str, rescaling: str) -> None:
    """Fail with the likeliest cause when ``got`` differs from the right labels.

    ``rescaled`` are the reference's labels for the same images scaled the other way
    (float images divided by 255 again, or uint8 pixels left at 0..255): when the student's
    labels match those, the scaling is at fault, not the argmax.
    """
    wrong = int((got != right).sum())
    if not wrong:
        return
    if torch.equal(got, rescaled):
        raise Fail(f"predict seems to scale the images differently from train_model: {what} get "
                   f"the labels of the same images {rescaling}; scale uint8 pixels 0..255 to "
                   "[0, 1] (divide by 255) and pass floats in [0, 1] on unchanged, as in training",
                   0.25)
    raise Fail(f"predict gives the wrong label for {wrong} of {n} {what}: the label is the index of "
               "the largest logit (argmax along dimension 1) for the images scaled as in "
               "train_model", 0.25)


@test("predict", 1, "predict: float images in [0, 1], one label per image")
def predict_values(ctx) -> None:
    g = ctx.generator()
    model, weight, bias = _probe(ctx, g)
    for n in (5, 2345):
        images = torch.rand(n, 1, 28, 28, generator=g)
        got = as_tensor(ctx.student.predict(model, images, ctx.device), "predict's result")
        check_shape(got, (n,), f"predict for {n} images")
        right = _reference_labels(ctx, weight, bias, images)
        again = _reference_labels(ctx, weight, bias, images / 255)
        _labels_fail(got.long(), right, again, n, "float images in [0, 1]",
                     "divided by 255 once more")


@test("predict", 1, "predict: uint8 images are scaled to [0, 1] as in training")
def predict_uint8(ctx) -> None:
    g = ctx.generator()
    model, weight, bias = _probe(ctx, g)
    n = 300
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    try:
        got = as_tensor(ctx.student.predict(model, images, ctx.device), "predict's result")
    except StudentError as exc:
        raise Fail(f"predict raised {exc.type} for uint8 images (N, 28, 28) with pixels 0..255: "
                   "turn them into floats in [0, 1] (divide by 255, as train_model does) before "
                   "they reach the model") from None
    check_shape(got, (n,), f"predict for {n} uint8 images of shape (N, 28, 28)")
    right = _reference_labels(ctx, weight, bias, images.float() / 255)
    unscaled = _reference_labels(ctx, weight, bias, images.float())
    _labels_fail(got.long(), right, unscaled, n, "uint8 images with pixels 0..255",
                 "left at 0..255 instead of divided by 255")


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
        raise Fail(f"evaluate_accuracy is off by {abs(got - want):.3g}{hint}"
                   + _predict_at_fault(ctx, model, images, pred))


@test("evaluate_accuracy", 1, "evaluate_accuracy: all right and all wrong")
def accuracy_edges(ctx) -> None:
    g = ctx.generator()
    model, weight, bias = _probe(ctx, g)
    images = torch.rand(20, 1, 28, 28, generator=g)
    pred = (images.flatten(1) @ weight.T + bias).argmax(dim=1)
    right = ctx.student.evaluate_accuracy(model, images, pred, ctx.device)
    wrong = ctx.student.evaluate_accuracy(model, images, (pred + 3) % 10, ctx.device)
    if float(right) != 1.0 or float(wrong) != 0.0:
        raise Fail("evaluate_accuracy should be 1.0 when every label is right and 0.0 when none is"
                   + _predict_at_fault(ctx, model, images, pred))


def _predict_at_fault(ctx, model, images, pred) -> str:
    """A hint for evaluate_accuracy's messages when the student's predict is wrong here too."""
    try:
        labels = ctx.student.predict(model, images, ctx.device)
    except StudentError:
        return "; predict fails on these images too: fix predict first, evaluate_accuracy depends on it"
    if not isinstance(labels, torch.Tensor) or labels.shape != pred.shape \
            or not torch.equal(labels.long(), pred):
        return ("; predict gives wrong labels for these images too: fix predict first, "
                "evaluate_accuracy depends on it")
    return ""
