"""Hidden tests for ps3_backprop: XOR with a two-layer network and hand-written backprop.

Gradients are checked against autograd of the mean binary cross-entropy, computed here on
the trusted side; trained parameters are evaluated here with the reference forward pass.
"""

from __future__ import annotations

import math

import torch

from ..sandbox.client import StudentError
from . import static
from .framework import (
    Fail,
    Registry,
    as_tensor,
    check_finite,
    describe_value,
    score_fraction,
    unpack,
)

registry = Registry()
TESTS = registry.tests
test = registry.test

KEYS = ("w1", "b1", "w2", "b2")
X_XOR = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = torch.tensor([[0.0], [1.0], [1.0], [0.0]])


def _randint(g: torch.Generator, lo: int, hi: int) -> int:
    """An int in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def _shapes(n_in: int, h: int, n_out: int) -> dict[str, tuple[int, ...]]:
    return {"w1": (n_in, h), "b1": (h,), "w2": (h, n_out), "b2": (n_out,)}


def _random_params(g: torch.Generator, n_in: int, h: int, n_out: int,
                   scale: float = 1.0) -> dict[str, torch.Tensor]:
    return {k: torch.randn(s, generator=g) * scale for k, s in _shapes(n_in, h, n_out).items()}


def _matches(got, want: torch.Tensor, *, atol: float, rtol: float,
             dtype: torch.dtype | None = None) -> bool:
    return (isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(want.shape)
            and (dtype is None or got.dtype == dtype)
            and bool(torch.isfinite(got).all())
            and torch.allclose(got.detach().double(), want.detach().double(), atol=atol, rtol=rtol))


def _sigmoid64(z: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(z.double())


# ---------------------------------------------------------------- sigmoid


def _elementwise_random(ctx, fn_name: str, ref_fn) -> tuple[int, int, list[torch.Tensor], list]:
    g = ctx.generator()
    ok, inputs, outputs = 0, [], []
    for rank in (0, 1, 2, 3, 2, 1):
        shape = tuple(_randint(g, 1, 5) for _ in range(rank))
        z = torch.randn(shape, generator=g) * 4.0
        got = getattr(ctx.student, fn_name)(z)
        inputs.append(z)
        outputs.append(got)
        if _matches(got, ref_fn(z), atol=1e-6, rtol=1e-5, dtype=torch.float32):
            ok += 1
    return ok, len(inputs), inputs, outputs


def _shape_dtype_hint(inputs, outputs) -> str:
    for z, got in zip(inputs, outputs, strict=True):
        if not isinstance(got, torch.Tensor):
            return f" (it returned {describe_value(got)} instead of a tensor)"
        if tuple(got.shape) != tuple(z.shape):
            return " (the result must have the same shape as z)"
        if got.dtype != z.dtype:
            return f" (a float32 input should give a float32 result, not {got.dtype})"
    return ""


@test("sigmoid", 1, "sigmoid: random tensors of several shapes")
def sigmoid_random(ctx) -> None:
    ok, total, inputs, outputs = _elementwise_random(ctx, "sigmoid", ctx.ref.sigmoid)
    score_fraction(ok, total, "sigmoid is right for {passed} of {total} random tensors of rank 0 "
                              "to 3: compute 1 / (1 + exp(-z)) element-wise"
                   + _shape_dtype_hint(inputs, outputs))


def _extremes() -> torch.Tensor:
    return torch.tensor([-1000.0, -200.0, -100.0, -89.0, -50.0, -20.0, -2.0, 0.0,
                         2.0, 20.0, 50.0, 89.0, 100.0, 200.0, 1000.0])


def _extreme_cases(ctx, fn_name: str, ref_fn, what: str, limits: str) -> None:
    fn = getattr(ctx.student, fn_name)
    g = ctx.generator()
    problems: list[str] = []
    ok = 0
    z = _extremes()[torch.randperm(15, generator=g)]
    got = fn(z)
    if _matches(got, ref_fn(z), atol=1e-6, rtol=1e-5):
        ok += 1
    elif isinstance(got, torch.Tensor) and got.is_floating_point() \
            and not bool(torch.isfinite(got).all()):
        problems.append(f"{what} gives NaN or inf for large |z| (such as ±100 or ±1000); write it "
                        "so that exp can overflow to inf harmlessly, e.g. 1 / (1 + exp(-z))")
    else:
        problems.append(f"{what} is wrong for large |z| (it should approach {limits})")
    z64 = torch.randn(3, 4, generator=g, dtype=torch.float64) * 5.0
    got = fn(z64)
    if _matches(got, ref_fn(z64), atol=1e-10, rtol=1e-9, dtype=torch.float64):
        ok += 1
    else:
        problems.append(f"{what} should keep float64 inputs in float64 (and be right for them)")
    zi = torch.tensor([-3, 0, 1, 4])
    got = fn(zi)
    if _matches(got, ref_fn(zi.float()), atol=1e-6, rtol=1e-5) and got.is_floating_point():
        ok += 1
    else:
        problems.append(f"{what} should accept an integer tensor and return floats")
    if problems:
        raise Fail("; ".join(problems), ok / 3)


@test("sigmoid", 0.5, "sigmoid: large |z|, float64 and integer inputs")
def sigmoid_extremes(ctx) -> None:
    _extreme_cases(ctx, "sigmoid", ctx.ref.sigmoid, "sigmoid", "0 for z -> -inf and 1 for z -> inf")


_LIBRARY_SIGMOID = {"torch.sigmoid", "torch.nn.functional.sigmoid", "torch.special.expit",
                    "scipy.special.expit", "torch.nn.Sigmoid", ".sigmoid", ".sigmoid_", ".expit",
                    ".Sigmoid", "torch.nn.functional.logsigmoid", ".logsigmoid",
                    "'sigmoid", "'expit"}


@test("sigmoid", 0.5, "sigmoid: written with torch.exp, not a library sigmoid", kind="static")
def sigmoid_by_hand(ctx) -> None:
    found = sorted({line for line, name in static.names_used(ctx.source())
                    if name in _LIBRARY_SIGMOID})
    if found:
        raise Fail("sigmoid should be computed from its formula with torch.exp, but it calls a "
                   f"library sigmoid (line {', '.join(map(str, found[:3]))})")


# ---------------------------------------------------------------- sigmoid_prime


@test("sigmoid_prime", 1.25, "sigmoid_prime: random tensors of several shapes")
def sigmoid_prime_random(ctx) -> None:
    ok, total, inputs, outputs = _elementwise_random(ctx, "sigmoid_prime", ctx.ref.sigmoid_prime)
    if ok == total:
        return
    on_z = sum(_matches(got, z * (1 - z), atol=1e-5, rtol=1e-5)
               for z, got in zip(inputs, outputs, strict=True))
    if on_z == total:
        raise Fail("sigmoid_prime computes z * (1 - z): the formula σ(z)(1 − σ(z)) needs the "
                   "sigmoid of z first (s = sigmoid(z), then s * (1 - s)); sigmoid_prime "
                   "receives the sigmoid's input z, not its output", 0.2)
    score_fraction(ok, total, "sigmoid_prime is right for {passed} of {total} random tensors of "
                              "rank 0 to 3: it should be sigmoid(z) * (1 - sigmoid(z))"
                   + _shape_dtype_hint(inputs, outputs))


@test("sigmoid_prime", 0.75, "sigmoid_prime: large |z|, float64 and integer inputs")
def sigmoid_prime_extremes(ctx) -> None:
    _extreme_cases(ctx, "sigmoid_prime", ctx.ref.sigmoid_prime, "sigmoid_prime",
                   "0 on both sides")


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
    return _randint(g, 1, 6), _randint(g, 2, 8), _randint(g, 1, 4)


@test("init_params", 1.5, "init_params: keys, shapes, float32, small random values")
def init_params_shapes(ctx) -> None:
    g = ctx.generator()
    ok, total, first = 0, 5, None
    for i in range(total):
        n_in, h, n_out = (2, 2, 1) if i == 0 else _init_sizes(g)
        seed = _randint(g, 0, 10_000)
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
        seed = _randint(g, 0, 10_000)
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
        seed = _randint(g, 0, 10_000)
        a = ctx.student.init_params(n_in, h, n_out, seed)
        b = ctx.student.init_params(n_in, h, n_out, seed + _randint(g, 1, 50))
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


def _ref_forward(X: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    a1 = _sigmoid64(X.double() @ p["w1"].double() + p["b1"].double())
    return _sigmoid64(a1 @ p["w2"].double() + p["b2"].double())


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
        n, n_in, h, n_out = _randint(g, 2, 9), _randint(g, 1, 5), _randint(g, 1, 6), _randint(g, 1, 3)
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


# ---------------------------------------------------------------- bce_loss


def _bce64(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    p = p.double().clamp(1e-7, 1 - 1e-7)
    y = y.double()
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def _scalar(value) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return float(value.reshape(()))
    if isinstance(value, float):
        return value
    return None


@test("bce_loss", 2, "bce_loss: mean binary cross-entropy on random data")
def bce_random(ctx) -> None:
    g = ctx.generator()
    ok, total, hints = 0, 6, set()
    shapes = [(_randint(g, 2, 9), 1), (_randint(g, 2, 9),), (_randint(g, 2, 6), _randint(g, 2, 4)),
              (4, 1), (_randint(g, 10, 30), 1), (_randint(g, 2, 5), 3)]
    for shape in shapes:
        p = torch.rand(shape, generator=g) * 0.98 + 0.01
        y = (torch.rand(shape, generator=g) > 0.5).float()
        want = float(_bce64(p, y))
        got = _scalar(ctx.student.bce_loss(p, y))
        if got is None or not math.isfinite(got):
            hints.add("bce_loss should return one finite number (a 0-dim tensor)")
            continue
        if abs(got - want) <= 1e-5 * max(1.0, abs(want)):
            ok += 1
            continue
        m = p.numel()
        rows = shape[0]

        def near(x: float, got: float = got) -> bool:
            return abs(got - x) <= 1e-4 * max(1.0, abs(x))

        if m > 1 and near(want * m):
            hints.add("the loss is summed over the entries instead of averaged: use the mean "
                      "(divide by the number of entries)")
        elif m != rows and near(want * m / rows):
            hints.add("the loss is averaged over the rows only: take the mean over all entries "
                      "of y_pred, like nn.BCELoss()")
        elif near(-want):
            hints.add("the loss has the wrong sign: BCE = -mean(y log p + (1 - y) log(1 - p))")
    score_fraction(ok, total, "bce_loss is right for {passed} of {total} random cases"
                   + (": " + "; ".join(sorted(hints)) if hints else ""))


@test("bce_loss", 1.5, "bce_loss: stays finite for predictions of exactly 0 and 1")
def bce_extremes(ctx) -> None:
    g = ctx.generator()
    problems: list[str] = []
    ok = 0
    # right and fully confident: about zero cost
    y = (torch.rand(8, 1, generator=g) > 0.5).float()
    y[0], y[1] = 0.0, 1.0
    got = _scalar(ctx.student.bce_loss(y.clone(), y))
    if got is not None and math.isfinite(got) and 0 <= got < 1e-3:
        ok += 1
    elif got is None or not math.isfinite(got):
        problems.append("right predictions of exactly 0 and 1 give NaN or inf (0 * log 0 is "
                        "NaN): clamp the predictions into [eps, 1 - eps] before the log")
    else:
        problems.append("right, fully confident predictions should cost (almost) nothing")
    # wrong and fully confident: large but finite
    got = _scalar(ctx.student.bce_loss(1.0 - y, y))
    if got is not None and math.isfinite(got) and got > 5.0:
        ok += 1
    elif got is None or not math.isfinite(got):
        problems.append("wrong predictions of exactly 0 or 1 give inf or NaN (log 0 = -inf): "
                        "clamp the predictions into [eps, 1 - eps], eps = 1e-7, before the log")
    else:
        problems.append("wrong, fully confident predictions should cost a lot (> 5)")
    # random predictions with a few exact 0s and 1s that are right
    p = torch.rand(10, 2, generator=g) * 0.9 + 0.05
    t = (torch.rand(10, 2, generator=g) > 0.5).float()
    idx = torch.randperm(20, generator=g)[:5]
    p.view(-1)[idx] = t.view(-1)[idx]
    got = _scalar(ctx.student.bce_loss(p, t))
    if got is not None and math.isfinite(got) and abs(got - float(_bce64(p, t))) < 1e-4:
        ok += 1
    elif got is None or not math.isfinite(got):
        if not problems:
            problems.append("predictions that contain a few exact 0s and 1s give NaN or inf: "
                            "clamp the predictions before the log")
    else:
        problems.append("the mean BCE is wrong when some predictions are exactly 0 or 1")
    if problems:
        raise Fail("; ".join(problems), ok / 3)


@test("bce_loss", 0.5, "bce_loss: a 0-dim tensor; predicting 0.5 costs ln 2 for any batch size")
def bce_half(ctx) -> None:
    g = ctx.generator()
    for n in (4, _randint(g, 5, 40)):
        y = (torch.rand(n, 1, generator=g) > 0.5).float()
        got = ctx.student.bce_loss(torch.full((n, 1), 0.5), y)
        got = as_tensor(got, "the loss")
        if got.dim() != 0:
            raise Fail(f"bce_loss should return a 0-dim tensor (a scalar), not shape {tuple(got.shape)}")
        value = float(got)
        if not abs(value - math.log(2)) < 1e-5:
            raise Fail("predicting 0.5 everywhere should cost ln 2 ≈ 0.6931 whatever the batch "
                       "size; take the mean over the examples, not the sum")
        p = torch.rand(n, 1, generator=g) * 0.98 + 0.01
        other = _scalar(ctx.student.bce_loss(p, y))
        if other is None or not abs(other - float(_bce64(p, y))) < 1e-4:
            raise Fail("bce_loss gives ln 2 for predictions of 0.5 but is wrong for other "
                       "predictions: compute -mean(y log p + (1 - y) log(1 - p))")


# ---------------------------------------------------------------- backward


def _autograd_grads(X, y, params) -> dict[str, torch.Tensor]:
    """Autograd's gradients of the mean BCE (float64) for the reference network."""
    with torch.enable_grad():
        leaf = {k: v.detach().double().clone().requires_grad_(True) for k, v in params.items()}
        a1 = torch.sigmoid(X.double() @ leaf["w1"] + leaf["b1"])
        p = torch.sigmoid(a1 @ leaf["w2"] + leaf["b2"])
        yd = y.double()
        loss = -(yd * torch.log(p) + (1 - yd) * torch.log(1 - p)).mean()
        grads = torch.autograd.grad(loss, [leaf[k] for k in KEYS])
    return {k: gr.detach() for k, gr in zip(KEYS, grads, strict=True)}


def _hidden_variants(X, y, params) -> dict[str, dict[str, torch.Tensor]]:
    """Gradients of w1 and b1 with common hidden-layer mistakes (float64)."""
    X, y = X.double(), y.double()
    p = {k: v.double() for k, v in params.items()}
    a1 = torch.sigmoid(X @ p["w1"] + p["b1"])
    y_pred = torch.sigmoid(a1 @ p["w2"] + p["b2"])
    d_a1 = ((y_pred - y) / y_pred.numel()) @ p["w2"].T
    s = torch.sigmoid(a1)
    out = {}
    for name, d_z1 in (("missing", d_a1), ("on a1", d_a1 * s * (1 - s))):
        out[name] = {"w1": X.T @ d_z1, "b1": d_z1.sum(0)}
    return out


def _factor_hint(g: torch.Tensor, w: torch.Tensor, n: int, n_out: int) -> str | None:
    """What is wrong when the gradient is the right one times a telling constant."""
    gd, wd = g.double().flatten(), w.double().flatten()
    denom = float(wd @ wd)
    if denom < 1e-20:
        return None
    c = float(gd @ wd) / denom
    if abs(c - 1) < 0.02 or not torch.allclose(gd, c * wd, rtol=1e-3, atol=1e-7):
        return None

    def near(x: float) -> bool:
        return abs(c - x) <= 0.01 * abs(x)

    m = n * n_out
    if near(n):
        return ("is N times too large (N = the number of examples): did you sum over the batch "
                "instead of averaging (the lecture's code does)?")
    if near(m):
        return ("is N·n_out times too large: the mean BCE divides by all N·n_out entries of "
                "y_pred; did you sum over the batch instead of averaging (the lecture's code does)?")
    if n_out > 1 and near(n_out):
        return ("is n_out times too large: the mean runs over all N·n_out entries of y_pred, "
                "not only over the N rows")
    if near(1 / n) or near(1 / m):
        return "is too small by the batch size: did you divide by N twice?"
    if near(-1):
        return "has the wrong sign: the output error is δ2 = (y_pred - y) / M"
    return None


_PRODUCTS = {"w1": "w1 (n_in, h) = X.T @ δ1", "w2": "w2 (h, n_out) = a1.T @ δ2"}


def _shape_hint(k: str, got: torch.Tensor, want: torch.Tensor, n: int) -> str:
    if got.dim() == 2 and tuple(got.shape) == tuple(want.shape)[::-1]:
        return ("is transposed: a gradient has the shape of its parameter, "
                + _PRODUCTS.get(k, k))
    if k.startswith("b") and got.dim() == 2 and tuple(got.shape) == (n, want.shape[0]):
        return ("keeps one row per example: a bias is added to every row, so sum its gradient "
                "over the batch (dim 0)")
    return "does not have the shape of its parameter"


def _gradient_hint(k: str, got, want: torch.Tensor, variants: dict, n: int, n_out: int) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"should be a tensor, not {describe_value(got)}"
    if tuple(got.shape) != tuple(want.shape):
        return _shape_hint(k, got, want, n)
    if want.dim() == 2 and want.shape[0] == want.shape[1] > 1 \
            and _matches(got.T, want, atol=1e-6, rtol=1e-3):
        return _shape_hint(k, got.T, want, n)
    if not bool(torch.isfinite(got).all()):
        return "contains NaN or inf"
    hint = _factor_hint(got, want, n, n_out)
    if hint is None and k in ("w1", "b1"):
        if _matches(got, variants["missing"][k], atol=1e-6, rtol=1e-3):
            hint = ("is missing the sigmoid derivative of the hidden layer: "
                    "δ1 = (δ2 @ w2.T) * a1 * (1 - a1)")
        elif _matches(got, variants["on a1"][k], atol=1e-6, rtol=1e-3):
            hint = ("applies sigmoid_prime to a1, which is already a sigmoid output: "
                    "σ'(z1) = a1 * (1 - a1)")
    return hint


_PLURAL = {"is": "are", "has": "have", "keeps": "keep", "applies": "apply", "does": "do",
           "contains": "contain", "should": "should"}


def _join_hints(hints: dict[str, list[str]]) -> str:
    """{"is N times too large...": ["w1", "w2"]} -> "w1's and w2's gradients are N times ..."."""
    parts = []
    for tail, keys in hints.items():
        if len(keys) == 1:
            parts.append(f"{keys[0]}'s gradient {tail}")
        else:
            verb, _, rest = tail.partition(" ")
            names = ", ".join(f"{k}'s" for k in keys[:-1]) + f" and {keys[-1]}'s"
            parts.append(f"{names} gradients {_PLURAL.get(verb, verb)} {rest}")
    return "; ".join(parts)


def _check_backward(ctx, cases, *, no_grad: bool = False) -> None:
    """Run the student's forward then backward on each case; credit per parameter."""
    ok = dict.fromkeys(KEYS, 0)
    hints: dict[str, list[str]] = {}
    forward_wrong = False
    backward = ctx.student.backward.options(grad=False) if no_grad else ctx.student.backward
    for n, n_in, h, n_out, g in cases:
        params = _random_params(g, n_in, h, n_out)
        X = torch.randn(n, n_in, generator=g)
        y = (torch.rand(n, n_out, generator=g) > 0.5).float()
        try:
            y_pred, cache = ctx.student.forward(X, params)
        except StudentError as exc:
            raise Fail("backward could not be checked yet: forward, whose cache backward uses, "
                       f"raised {exc.type} (backward needs a working forward)") from None
        if not _matches(y_pred, _ref_forward(X, params), atol=1e-5, rtol=1e-4):
            forward_wrong = True
        grads = backward(X, y, params, cache)
        if not isinstance(grads, dict) or not all(k in grads for k in KEYS):
            raise Fail("backward should return a dict with the keys w1, b1, w2, b2, but it "
                       f"returned {describe_value(grads)}"
                       + (f" with keys {sorted(map(str, grads))}" if isinstance(grads, dict) else ""))
        want = _autograd_grads(X, y, params)
        variants = _hidden_variants(X, y, params)
        for k in KEYS:
            if _matches(grads[k], want[k], atol=1e-6, rtol=1e-3):
                ok[k] += 1
                continue
            hint = _gradient_hint(k, grads[k], want[k], variants, n, n_out)
            if hint and k not in hints.setdefault(hint, []):
                hints[hint].append(k)
    total = len(cases)
    if all(v == total for v in ok.values()):
        return
    wrong = ", ".join(f"{k} ({total - ok[k]} of {total} cases)" for k in KEYS if ok[k] < total)
    msg = f"backward's gradients differ from autograd's gradients of the mean BCE for {wrong}"
    if hints:
        msg += ". " + _join_hints(dict(list(hints.items())[:4]))
    elif all(ok[k] == total for k in ("w2", "b2")):
        msg += (". The output layer is right: check the hidden layer (δ2 @ w2.T, then the "
                "sigmoid derivative)")
    if forward_wrong:
        msg += ". Note: your forward is wrong for some of these cases, and backward uses its cache"
    raise Fail(msg, sum(ok.values()) / (len(KEYS) * total))


@test("backward", 3.5, "backward: matches autograd for random batch sizes and widths")
def backward_random(ctx) -> None:
    g = ctx.generator()
    cases = []
    for _ in range(5):
        n_in, h = _randint(g, 1, 5), _randint(g, 2, 6)
        n_out = _randint(g, 1, 3)
        if n_out == h:
            h += 1
        cases.append((_randint(g, 2, 12), n_in, h, n_out, g))
    _check_backward(ctx, cases)


@test("backward", 1, "backward: the XOR shapes (N=4, 2-2-1) and a single example")
def backward_small(ctx) -> None:
    g = ctx.generator()
    _check_backward(ctx, [(4, 2, 2, 1, g), (1, 3, 4, 1, g), (3, 2, 3, 1, g)])


@test("backward", 0.5, "backward: works under torch.no_grad() (gradients by hand)")
def backward_no_grad(ctx) -> None:
    g = ctx.generator()
    try:
        _check_backward(ctx, [(5, 3, 4, 1, g), (4, 2, 2, 1, g)], no_grad=True)
    except StudentError as exc:
        if "grad" not in exc.message:
            raise
        raise Fail(f"backward fails under torch.no_grad() (it raised {exc.type}): it seems to "
                   "rely on autograd; compute the gradients by hand with the chain rule") from None
    except Fail as f:
        if f.message.startswith("backward's gradients"):
            raise Fail("under torch.no_grad(), " + f.message, f.fraction) from None
        raise


@test("backward", 1, "backward: no autograd in the source", kind="static")
def backward_no_autograd(ctx) -> None:
    found = static.forbidden(ctx.source(), static.AUTOGRAD)
    if found:
        raise Fail(f"backward must compute the gradients by hand, but it uses {static.summary(found)}")


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
                "does param = param - lr * grad with your backward's gradients")
    return 0.0, f"{what} classifies only {right} of the 4 XOR points (mean BCE {loss:.3f}){hint}"


def _solved_without_training(ctx, n_hidden: int, seed: int) -> bool:
    """Whether a single gradient step already 'solves' XOR (parameters not really trained)."""
    try:
        params = ctx.student.train_xor.options(timeout=120)(n_hidden=n_hidden, steps=1, seed=seed)
        return _evaluate_trained(ctx, params, n_hidden, "train_xor")[0] == 1.0
    except (StudentError, Fail):
        return False


@test("train_xor", 2, "train_xor: the default call solves XOR")
def train_xor_default(ctx) -> None:
    params = ctx.student.train_xor.options(timeout=120)()
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
    seed = _randint(g, 1, 500)
    params = ctx.student.train_xor.options(timeout=120)(n_hidden=4, seed=seed)
    score, msg = _evaluate_trained(ctx, params, 4, "train_xor(n_hidden=4, seed=...)")
    if msg:
        raise Fail(msg, score)
    other = ctx.student.train_xor.options(timeout=120)(n_hidden=4, seed=seed + _randint(g, 1, 99))
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
    seed = _randint(g, 1, 500)
    train = ctx.student.train_xor.options(timeout=120)
    first = train(n_hidden=3, seed=seed)
    score, msg = _evaluate_trained(ctx, first, 3, "train_xor(n_hidden=3, seed=...)")
    if score < 1.0:
        raise Fail(f"{msg} (reproducibility counts once the run solves XOR)")
    if not _same_params(first, train(n_hidden=3, seed=seed)):
        raise Fail("train_xor gave different parameters for the same arguments: derive every "
                   "random choice from `seed` (init_params(..., seed) and restart seeds)")
    if _same_params(first, train(n_hidden=3, seed=seed + 1)):
        raise Fail("train_xor gave the same parameters for different seeds: the seed should "
                   "decide the initialisation (init_params(2, n_hidden, 1, seed))")


_TRAIN_FORBIDDEN = {k: v for k, v in static.AUTOGRAD.items() if k != "backward"}
_TRAIN_FORBIDDEN["optim"] = "torch.optim"


@test("train_xor", 0.5, "train_xor: plain gradient descent with your backward", kind="static")
def train_xor_by_hand(ctx) -> None:
    src = ctx.source()
    found = static.forbidden(src, _TRAIN_FORBIDDEN)
    # `backward(...)` is the student's own function; only the method `.backward()` is autograd.
    found += [static.Finding(line, "autograd (.backward)")
              for line, name in static.names_used(src) if name == ".backward"]
    if found:
        found.sort(key=lambda f: f.line)
        raise Fail("train_xor should update the parameters itself with your backward's "
                   f"gradients, but it uses {static.summary(found)}")
