"""init_params and forward: the two-layer network's parameters and its forward pass."""

from __future__ import annotations

import torch

from ..api import randint
from ..framework import (
    Fail,
    Registry,
    as_tensor,
    check_finite,
    describe_value,
    score_fraction,
    unpack,
)
from ._common import KEYS, X_XOR, Y_XOR, _matches, _random_params, _ref_forward, _shapes

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- init_params


def _params_problem(p, n_in: int, h: int, n_out: int, what: str) -> str | None:
    """Why ``p`` is not a valid, randomly initialised parameter dict (None when it is)."""
    if not isinstance(p, dict):
        return f"{what} should return a dict, but it returned {describe_value(p)}"
    if sorted(p.keys(), key=str) != sorted(KEYS):
        return f"{what} should return exactly the keys w1, b1, w2, b2 (got {sorted(map(str, p))})"
    for k, shape in _shapes(n_in, h, n_out).items():
        v = p[k]
        if not isinstance(v, torch.Tensor):
            return f"{what}: {k} should be a tensor, but it is {describe_value(v)}"
        if tuple(v.shape) != shape:
            return (f"{what}: {k} has the wrong shape (w1 is (n_in, n_hidden), b1 (n_hidden,), "
                    "w2 (n_hidden, n_out), b2 (n_out,))")
        if v.dtype != torch.float32:
            return f"{what}: {k} should be float32, not {v.dtype}"
        if not bool(torch.isfinite(v).all()):
            return (f"{what}: {k} contains NaN or inf (torch.Tensor(...) or torch.empty only "
                    "allocates memory: draw random values instead)")
        if v.numel() and float(v.abs().max()) > 10.0:
            return f"{what}: {k} has very large values; start with small random values"
    w1, w2 = p["w1"], p["w2"]
    if float(w1.abs().max()) == 0.0 or float(w2.abs().max()) == 0.0:
        return f"{what}: the weights are all zero; initialise them randomly"
    if h > 1 and (torch.equal(w1[:, 0], w1[:, 1]) or torch.equal(w2[0], w2[1])):
        return (f"{what}: hidden units start with identical weights; draw each weight "
                "independently to break the symmetry")
    return None


def _init_sizes(g: torch.Generator) -> tuple[int, int, int]:
    return randint(g, 1, 6), randint(g, 2, 8), randint(g, 1, 4)


@test("init_params", 1.5, "init_params: keys, shapes, float32, small random values")
def init_params_shapes(ctx) -> None:
    g = ctx.generator()
    ok, total, first = 0, 5, None
    for i in range(total):
        n_in, h, n_out = (2, 2, 1) if i == 0 else _init_sizes(g)
        seed = randint(g, 0, 10_000)
        problem = _params_problem(ctx.student.init_params(n_in, h, n_out, seed),
                                  n_in, h, n_out, "init_params")
        if problem is None:
            ok += 1
        else:
            first = first or problem
    if ok < total:
        raise Fail(f"init_params is right for {ok} of {total} random sizes; {first}", ok / total)


@test("init_params", 0.75, "init_params: the same seed gives the same parameters")
def init_params_same_seed(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 3
    for _ in range(total):
        n_in, h, n_out = _init_sizes(g)
        seed = randint(g, 0, 10_000)
        a = ctx.student.init_params(n_in, h, n_out, seed)
        problem = _params_problem(a, n_in, h, n_out, "init_params")
        if problem is not None:
            raise Fail(f"{problem} (valid parameters come before reproducibility)")
        b = ctx.student.init_params(n_in, h, n_out, seed)
        if _params_problem(b, n_in, h, n_out, "init_params") is None \
                and all(torch.equal(a[k], b[k]) for k in KEYS):
            ok += 1
    score_fraction(ok, total, "init_params gave the same parameters for a repeated seed in "
                              "{passed} of {total} cases: create g = torch.Generator()"
                              ".manual_seed(seed) and pass generator=g to every random call")


@test("init_params", 0.75, "init_params: different seeds give different parameters")
def init_params_different_seeds(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 3
    for _ in range(total):
        n_in, h, n_out = _init_sizes(g)
        seed = randint(g, 0, 10_000)
        a = ctx.student.init_params(n_in, h, n_out, seed)
        b = ctx.student.init_params(n_in, h, n_out, seed + randint(g, 1, 50))
        for p in (a, b):
            problem = _params_problem(p, n_in, h, n_out, "init_params")
            if problem is not None:
                raise Fail(f"{problem} (valid parameters come before the seed is checked)")
        if not torch.equal(a["w1"], b["w1"]) and not torch.equal(a["w2"], b["w2"]):
            ok += 1
    if ok < total:
        raise Fail(f"init_params returned the same parameters for different seeds in "
                   f"{total - ok} of {total} cases: the seed must decide the values (seed a "
                   "torch.Generator with it and pass generator=g)", ok / total)


# ---------------------------------------------------------------- forward


def _forward_variants(X, p) -> dict[str, torch.Tensor]:
    X, p = X.double(), {k: v.double() for k, v in p.items()}
    z1 = X @ p["w1"] + p["b1"]
    a1 = torch.sigmoid(z1)
    return {
        "no output sigmoid": a1 @ p["w2"] + p["b2"],
        "no hidden sigmoid": torch.sigmoid(z1 @ p["w2"] + p["b2"]),
        "no biases": torch.sigmoid(torch.sigmoid(X @ p["w1"]) @ p["w2"]),
    }


_FORWARD_HINTS = {
    "no output sigmoid": "y_pred looks like the output layer's z2 = a1 @ w2 + b2: apply the "
                         "sigmoid to the output layer too",
    "no hidden sigmoid": "the hidden layer seems to have no sigmoid: a1 = sigmoid(X @ w1 + b1)",
    "no biases": "the biases b1 and b2 seem to be missing",
}


def _student_forward(ctx, X, params, what="forward"):
    y_pred, cache = unpack(ctx.student.forward(X, params), 2, what)
    return as_tensor(y_pred, "y_pred (the first value forward returns)"), cache


@test("forward", 2, "forward: random networks and batch sizes")
def forward_random(ctx) -> None:
    g = ctx.generator()
    ok, total, hints = 0, 5, set()
    for _ in range(total):
        n, n_in, h, n_out = randint(g, 2, 9), randint(g, 1, 5), randint(g, 1, 6), randint(g, 1, 3)
        params = _random_params(g, n_in, h, n_out)
        X = torch.randn(n, n_in, generator=g)
        y_pred, _ = _student_forward(ctx, X, params)
        if _matches(y_pred, _ref_forward(X, params), atol=1e-5, rtol=1e-4):
            ok += 1
            continue
        if tuple(y_pred.shape) != (n, n_out):
            hints.add("y_pred must have shape (N, n_out)")
        for name, alt in _forward_variants(X, params).items():
            if _matches(y_pred, alt, atol=1e-4, rtol=1e-4):
                hints.add(_FORWARD_HINTS[name])
    score_fraction(ok, total, "forward's y_pred is right for {passed} of {total} random networks"
                   + (": " + "; ".join(sorted(hints)) if hints else
                      ": compute sigmoid(sigmoid(X @ w1 + b1) @ w2 + b2)"))


@test("forward", 1, "forward: returns (y_pred, cache) with probabilities in (0, 1)")
def forward_structure(ctx) -> None:
    g = ctx.generator()
    n, n_in, h, n_out = 6, 3, 4, 2
    params = _random_params(g, n_in, h, n_out)
    X = torch.randn(n, n_in, generator=g)
    y_pred, cache = _student_forward(ctx, X, params)
    if tuple(y_pred.shape) != (n, n_out):
        raise Fail("y_pred should have shape (N, n_out), one row per example")
    check_finite(y_pred, "y_pred")
    if not bool(((y_pred > 0) & (y_pred < 1)).all()):
        raise Fail("y_pred should hold probabilities strictly between 0 and 1 for moderate "
                   "weights: apply the sigmoid to the output layer")
    if not _matches(y_pred, _ref_forward(X, params), atol=1e-4, rtol=1e-3):
        raise Fail("y_pred is in (0, 1) but has the wrong values")
    if not isinstance(cache, dict):
        raise Fail(f"the cache should be a dict of intermediate values (such as a1), but it is "
                   f"{describe_value(cache)}")


@test("forward", 0.5, "forward: the lecture's hand-picked weights compute XOR")
def forward_xor(ctx) -> None:
    g = ctx.generator()
    hand = {"w1": torch.tensor([[5.0, -7.0], [5.0, -7.0]]), "b1": torch.tensor([-8.0, 3.0]),
            "w2": torch.tensor([[-11.0], [-11.0]]), "b2": torch.tensor([6.0])}
    order = torch.randint(0, 4, (9,), generator=g)
    y_pred, _ = _student_forward(ctx, X_XOR[order], hand)
    if tuple(y_pred.shape) != (9, 1):
        raise Fail("with the lecture's weights y_pred should have shape (N, 1)")
    if not torch.equal((y_pred > 0.5).float(), Y_XOR[order]):
        raise Fail("with the lecture's hand-picked weights forward does not reproduce the XOR "
                   "table (outputs above 0.5 exactly for (0, 1) and (1, 0))")


@test("forward", 0.5, "forward: one example, one hidden unit, one output")
def forward_tiny(ctx) -> None:
    g = ctx.generator()
    ok, total = 0, 2
    for n_in in (1, 3):
        params = _random_params(g, n_in, 1, 1)
        X = torch.randn(1, n_in, generator=g)
        y_pred, _ = _student_forward(ctx, X, params)
        if _matches(y_pred, _ref_forward(X, params), atol=1e-5, rtol=1e-4):
            ok += 1
    score_fraction(ok, total, "forward is right for {passed} of {total} networks with a single "
                              "example and a single hidden unit (y_pred must still be (1, 1))")
