"""train_xor: trained parameters are evaluated here with the reference forward pass."""

from __future__ import annotations

import torch

from .. import static
from ..api import OverBudget, StudentError, randint
from ..framework import Fail, Registry, by_hand, check_finite, describe_value
from ._common import KEYS, X_XOR, Y_XOR, _shapes

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- train_xor


def _evaluate_trained(ctx, params, n_hidden: int, what: str) -> tuple[float, str | None]:
    """Credit for trained params: 1 when XOR is solved, 0.5 when classified but the loss is high."""
    if not isinstance(params, dict) or sorted(params.keys(), key=str) != sorted(KEYS):
        raise Fail(f"{what} should return the params dict with keys w1, b1, w2, b2, but it "
                   f"returned {describe_value(params)}")
    for k, shape in _shapes(2, n_hidden, 1).items():
        v = params[k]
        if not isinstance(v, torch.Tensor):
            raise Fail(f"{what}: {k} should be a tensor, not {describe_value(v)}")
        if tuple(v.shape) != shape:
            raise Fail(f"{what}: {k} has the wrong shape for n_hidden={n_hidden} (w1 (2, n_hidden), "
                       "b1 (n_hidden,), w2 (n_hidden, 1), b2 (1,))")
        check_finite(v, f"{what}: {k}")
    p = {k: params[k].detach().float() for k in KEYS}
    y_pred, _ = ctx.ref.forward(X_XOR.clone(), p)
    loss = float(ctx.ref.bce_loss(y_pred, Y_XOR))
    right = int(((y_pred > 0.5).float() == Y_XOR).sum())
    if right == 4 and loss < 0.05:
        return 1.0, None
    if right == 4:
        return 0.5, (f"{what} classifies all four XOR points, but the mean BCE is {loss:.3f}; it "
                     "should be below 0.05 (train longer, or check lr and the gradients)")
    hint = ""
    if 0.3 < loss < 0.4:
        hint = ("; a loss near 0.347 (ln 2 / 2) means a run got stuck: restart from a fresh "
                "initialisation (another seed derived from `seed`) when a run fails")
    elif loss > 0.65:
        hint = ("; a loss near 0.693 means the network has learned nothing: check that each step "
                "does param = param - lr * grad with your backward's gradients, and that forward "
                "and backward pass their own tests first (train_xor builds on them)")
    return 0.0, f"{what} classifies only {right} of the 4 XOR points (mean BCE {loss:.3f}){hint}"


def _train_xor(ctx, **kwargs):
    """The student's ``train_xor(**kwargs)`` under the training-call timeout and a CPU budget:
    the reference's cost of the same call times ``Limits.budget_factor`` (the one home).

    Why a budget: with a wrong backward the loss never gets low, and a train_xor that
    restarts until it does would cost twenty runs per call, on every one of these tests.
    Stopped once, train_xor's later tests are not run again (``TestRunner.faulted``).
    """
    limits = ctx.profile.limits
    budget = ctx.cpu_budget("train_xor", **kwargs)
    call = ctx.student.train_xor.options(timeout=limits.training_call_timeout_s, cpu_budget=budget)
    try:
        return call(**kwargs)
    except OverBudget:
        shown = ", ".join(f"{k}={'...' if k == 'seed' else v}" for k, v in kwargs.items())
        raise OverBudget(
            f"train_xor({shown}) was stopped after {budget:.1f} CPU seconds, {limits.budget_factor:g} "
            "times what the reference needs for the same call: a run that never reaches a low "
            "loss keeps restarting (check that forward and backward pass their tests), or each "
            "step does much more work than it needs") from None


def _solved_without_training(ctx, n_hidden: int, seed: int) -> bool:
    """Whether a single gradient step already 'solves' XOR (parameters not really trained)."""
    try:
        params = _train_xor(ctx, n_hidden=n_hidden, steps=1, seed=seed)
        return _evaluate_trained(ctx, params, n_hidden, "train_xor")[0] == 1.0
    except (StudentError, Fail):
        return False


@test("train_xor", 2, "train_xor: the default call solves XOR")
def train_xor_default(ctx) -> None:
    params = _train_xor(ctx)
    score, msg = _evaluate_trained(ctx, params, 2, "train_xor()")
    if score > 0 and _solved_without_training(ctx, 2, 0):
        raise Fail("train_xor(steps=1) already returns parameters that solve XOR: start from "
                   "init_params(2, n_hidden, 1, seed) and train for `steps` steps of gradient "
                   "descent (use the arguments, do not fix them inside)")
    if msg:
        raise Fail(msg, score)


@test("train_xor", 1, "train_xor: four hidden units and another seed")
def train_xor_wider(ctx) -> None:
    g = ctx.generator()
    seed = randint(g, 1, 500)
    params = _train_xor(ctx, n_hidden=4, seed=seed)
    score, msg = _evaluate_trained(ctx, params, 4, "train_xor(n_hidden=4, seed=...)")
    if msg:
        raise Fail(msg, score)
    other = _train_xor(ctx, n_hidden=4, seed=seed + randint(g, 1, 99))
    if _same_params(params, other):
        raise Fail("train_xor(n_hidden=4) returned the same parameters for two different seeds: "
                   "start each run from init_params(2, n_hidden, 1, seed)")


def _same_params(a, b) -> bool:
    return isinstance(a, dict) and isinstance(b, dict) and all(
        isinstance(a.get(k), torch.Tensor) and isinstance(b.get(k), torch.Tensor)
        and a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in KEYS)


@test("train_xor", 0.5, "train_xor: the same arguments give the same result")
def train_xor_reproducible(ctx) -> None:
    g = ctx.generator()
    seed = randint(g, 1, 500)
    first = _train_xor(ctx, n_hidden=3, seed=seed)
    score, msg = _evaluate_trained(ctx, first, 3, "train_xor(n_hidden=3, seed=...)")
    if score < 1.0:
        raise Fail(f"{msg} (reproducibility counts once the run solves XOR)")
    if not _same_params(first, _train_xor(ctx, n_hidden=3, seed=seed)):
        raise Fail("train_xor gave different parameters for the same arguments: derive every "
                   "random choice from `seed` (init_params(..., seed) and restart seeds)")
    if _same_params(first, _train_xor(ctx, n_hidden=3, seed=seed + 1)):
        raise Fail("train_xor gave the same parameters for different seeds: the seed should "
                   "decide the initialisation (init_params(2, n_hidden, 1, seed))")


_TRAIN_FORBIDDEN = dict(static.AUTOGRAD)
_TRAIN_FORBIDDEN["optim"] = "torch.optim"


@test("train_xor", 0.5, "train_xor: plain gradient descent with your backward", kind="static")
def train_xor_by_hand(ctx) -> None:
    # The student's own `backward` is theirs to call (its own rule checks it, and a name the
    # student defines never counts as a library's); the method `.backward()` is autograd.
    by_hand(ctx, _TRAIN_FORBIDDEN, "train_xor should update the parameters itself with your "
                                   "backward's gradients")
