"""backward: hand-written backprop, checked against autograd of the mean BCE.

Autograd runs here on the trusted side; wrong gradients that are the right ones times a
telling constant, transposed, or missing the hidden sigmoid derivative are named.
"""

from __future__ import annotations

import torch

from .. import static
from ..api import StudentError, randint
from ..framework import Fail, Registry, by_hand, describe_value
from ._common import KEYS, _matches, _random_params, _ref_forward

registry = Registry()
TESTS = registry.tests
test = registry.test

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
        return ("has the wrong sign: a prediction above its label should give the output "
                "layer's z2 a positive gradient")
    return None


_PRODUCTS = {"w1": "w1 (n_in, h)", "w2": "w2 (h, n_out)"}


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
            hint = ("is missing the sigmoid derivative of the hidden layer: the chain rule "
                    "also passes through a1 = σ(z1)")
        elif _matches(got, variants["on a1"][k], atol=1e-6, rtol=1e-3):
            hint = ("applies sigmoid_prime to a1, which is already a sigmoid output: "
                    "σ'(z1) can be written with a1 itself")
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
        msg += (". The output layer is right: check the hidden layer (back through w2, then "
                "through the hidden sigmoid)")
    if forward_wrong:
        msg += ". Note: your forward is wrong for some of these cases, and backward uses its cache"
    raise Fail(msg, sum(ok.values()) / (len(KEYS) * total))


@test("backward", 3.5, "backward: matches autograd for random batch sizes and widths")
def backward_random(ctx) -> None:
    g = ctx.generator()
    cases = []
    for _ in range(5):
        n_in, h = randint(g, 1, 5), randint(g, 2, 6)
        n_out = randint(g, 1, 3)
        if n_out == h:
            h += 1
        cases.append((randint(g, 2, 12), n_in, h, n_out, g))
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
    by_hand(ctx, static.AUTOGRAD, "backward must compute the gradients by hand")
