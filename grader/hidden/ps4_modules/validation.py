"""train_val_split and fit_and_validate: a reproducible split, and validation after every epoch.

``fit_and_validate`` trains models and loaders built in the worker by torch itself (the
notebook's locked setup cell: ``nn``, ``TensorDataset``, ``DataLoader``), so a mistake in the
student's own classes costs points only there. Its losses are replayed here with the
reference; the hints come from replays of the usual mistakes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ...sandbox.client import StudentError
from .. import static
from ..framework import Fail, Registry, describe_value, score_fraction, unpack
from ._common import LINEAR, _randint

registry = Registry()
TESTS = registry.tests
test = registry.test

# ---------------------------------------------------------------- train_val_split

_FRACTIONS = (0.1, 0.2, 0.25, 0.3, 1 / 3, 0.4, 0.45)


def _n_val(n: int, fraction: float) -> int:
    return min(max(round(fraction * n), 1), n - 1)


def _case(g: torch.Generator) -> tuple[int, float]:
    """(N, val_fraction) whose val_fraction * N is not near a tie at .5 (rounding is not the
    point of these tests)."""
    while True:
        n = _randint(g, 5, 40)
        fraction = _FRACTIONS[_randint(g, 0, len(_FRACTIONS) - 1)]
        if abs(fraction * n % 1 - 0.5) > 0.05:
            return n, fraction


def _parts(got: Any) -> tuple:
    parts = unpack(got, 4, "train_val_split")
    for p in parts:
        if not isinstance(p, torch.Tensor):
            raise Fail("train_val_split should return four tensors (x_train, y_train, x_val, "
                       f"y_val), but one of them is {describe_value(p)}")
    return parts


def _same(a: tuple, b: tuple) -> bool:
    return all(tuple(x.shape) == tuple(y.shape) and x.dtype == y.dtype and torch.equal(x, y)
               for x, y in zip(a, b, strict=True))


def _split_hint(got: tuple, x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int) -> str:
    n = len(x)
    k = _n_val(n, fraction)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))

    def split(val_idx: torch.Tensor, train_idx: torch.Tensor) -> tuple:
        return x[train_idx], y[train_idx], x[val_idx], y[val_idx]

    if _same((got[2], got[3], got[0], got[1]), split(perm[:k], perm[k:])):
        return ("the parts come in the wrong order: return (x_train, y_train, x_val, y_val), "
                "training part first")
    if len(got[2]) != k or len(got[0]) != n - k:
        how = ""
        if len(got[2]) == min(max(math.floor(fraction * n), 1), n - 1):
            how = " (yours rounds down, like int(); use round())"
        elif len(got[2]) == min(max(math.ceil(fraction * n), 1), n - 1):
            how = " (yours rounds up; use round())"
        elif len(got[0]) + len(got[2]) != n:
            how = " (and together the two parts should hold all N examples)"
        return ("the validation part has the wrong number of rows: it should hold n_val = "
                "round(val_fraction * N) rows, clipped to [1, N - 1], and the training part the "
                "other N - n_val" + how)
    order = torch.arange(n)
    if _same(got, split(order[:k], order[k:])):
        return ("the validation part is the first rows in their original order: shuffle with the "
                "seeded permutation first (data files are often sorted)")
    if _same(got, split(order[n - k:], order[:n - k])):
        return ("the validation part is the last rows in their original order: shuffle with the "
                "seeded permutation first")
    if _same(got, split(perm[n - k:], perm[:n - k])):
        return ("the validation part is the LAST n_val entries of the permutation: the docstring "
                "puts the first n_val entries of perm into validation")
    if _same(got, split(perm[:k].sort().values, perm[k:].sort().values)):
        return "keep the order of perm: do not sort the indices of the two parts"
    return ("the split differs from the one the docstring specifies: perm = torch.randperm(N, "
            "generator=torch.Generator().manual_seed(seed)), validation rows perm[:n_val], "
            "training rows perm[n_val:], and x and y indexed with the same indices")


@test("train_val_split", 1.25, "train_val_split: the seeded split the docstring specifies")
def split_exact(ctx) -> None:
    g = ctx.generator()
    ok, total, hint = 0, 6, ""
    for i in range(total):
        n, fraction = _case(g) if i < total - 1 else (_randint(g, 2, 4), 0.1)   # clipped to 1
        d = _randint(g, 1, 4)
        seed = _randint(g, 0, 10_000)
        x = torch.randn(n, d, generator=g)
        y = torch.randn(n, 1, generator=g) if i % 2 else torch.randint(0, 10, (n,), generator=g)
        got = _parts(ctx.student.train_val_split(x, y, fraction, seed))
        want = ctx.ref.train_val_split(x, y, fraction, seed)
        if _same(got, want):
            ok += 1
        elif not hint:
            hint = _split_hint(got, x, y, fraction, seed)
    score_fraction(ok, total, "train_val_split gives the specified split for {passed} of {total} "
                              "data sets: " + hint)


@test("train_val_split", 1, "train_val_split: every example in exactly one part, pairs together")
def split_partition(ctx) -> None:
    g = ctx.generator()
    ok, total, problems = 0, 3, []
    for i in range(total):
        n, fraction = _case(g)
        ids = torch.arange(n)
        if i == 0:      # integer inputs, 1-D float64 targets
            x, y = torch.stack([ids, ids * 2], dim=1), ids.double() * 3 + 1
        else:
            x = torch.cat([ids[:, None].float(), torch.randn(n, 2, generator=g)], dim=1)
            y = (ids.float() * 3 + 1)[:, None]
        got = _parts(ctx.student.train_val_split(x, y, fraction, _randint(g, 0, 999)))
        x_tr, y_tr, x_va, y_va = got
        if x_tr.dtype != x.dtype or y_tr.dtype != y.dtype or x_va.dtype != x.dtype \
                or y_va.dtype != y.dtype:
            problems.append("the four parts should keep the dtypes of x and y")
            continue
        if tuple(x_tr.shape[1:]) != tuple(x.shape[1:]) or tuple(x_va.shape[1:]) != tuple(x.shape[1:]) \
                or tuple(y_tr.shape[1:]) != tuple(y.shape[1:]) or tuple(y_va.shape[1:]) != tuple(y.shape[1:]):
            problems.append("every row should keep its shape: index the first dimension only")
            continue
        if len(x_tr) != len(y_tr) or len(x_va) != len(y_va):
            problems.append("x and y of a part should hold the same number of examples")
            continue
        seen = torch.cat([x_tr[:, 0], x_va[:, 0]]).long().sort().values
        if not torch.equal(seen, ids):
            problems.append("every example should land in exactly one part (none twice, none lost)")
            continue
        pairs_ok = all(torch.equal(yy.reshape(-1).double(), xx[:, 0].double() * 3 + 1)
                       for xx, yy in ((x_tr, y_tr), (x_va, y_va)))
        if not pairs_ok:
            problems.append("some inputs no longer sit next to their own targets: x and y were "
                            "permuted differently; index both with the same indices")
            continue
        ok += 1
    score_fraction(ok, total, "train_val_split keeps every example exactly once, with its own "
                              "target, in {passed} of {total} data sets: "
                   + "; ".join(dict.fromkeys(problems)))


@test("train_val_split", 0.75, "train_val_split: reproducible, seed-dependent, ValueError "
                               "outside (0, 1)")
def split_seed_errors(ctx) -> None:
    g = ctx.generator()
    n = _randint(g, 20, 40)
    x, y = torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g)
    seed = _randint(g, 0, 999)
    first = _parts(ctx.student.train_val_split(x, y, 0.25, seed))
    again = _parts(ctx.student.train_val_split(x, y, 0.25, seed))
    problems: list[str] = []
    earned = 0
    if _same(first, again):
        earned += 1
    else:
        problems.append("two calls with the same seed give different splits: draw the "
                        "permutation from torch.Generator().manual_seed(seed), not from the "
                        "global random state")
    others = [_parts(ctx.student.train_val_split(x, y, 0.25, seed + k))[2] for k in (1, 2, 3)]
    if any(not torch.equal(v, first[2]) for v in others):
        earned += 1
    else:
        problems.append("different seeds give the same split: the seed should decide the "
                        "permutation")
    raised = 0
    for bad in (0.0, 1.0, -0.25, 1.5):
        try:
            ctx.student.train_val_split(x, y, bad, seed)
        except ValueError:
            raised += 1
        except StudentError:
            pass
    if raised == 4:
        earned += 1
    else:
        problems.append(f"val_fraction outside (0, 1) should raise a ValueError ({raised} of 4 "
                        "such calls did)")
    if problems:
        raise Fail("; ".join(problems), earned / 3)


# ---------------------------------------------------------------- fit_and_validate


def _worker(ctx, attr: str, *args: Any) -> Any:
    """An nn.<attr>(*args) created in the worker by torch itself (the setup cell's ``nn``)."""
    try:
        return ctx.session.ensure().call({"name": "nn", "attr": attr}, args)
    except StudentError:
        raise Fail("fit_and_validate could not be checked: the setup cell's `nn` (torch.nn) was "
                   "replaced in the notebook; do not redefine it") from None


def _worker_linear(ctx, n_in: int) -> Any:
    layer = _worker(ctx, "Linear", n_in, 1)
    if ctx.session.describe(layer).get("type") != LINEAR:
        raise Fail("fit_and_validate could not be checked: the setup cell's `nn` (torch.nn) was "
                   "replaced in the notebook; do not redefine it")
    return layer


def _worker_loader(ctx, X: torch.Tensor, Y: torch.Tensor, batch_size: int) -> Any:
    try:
        dataset = ctx.student.TensorDataset(X, Y)
        return ctx.student.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    except StudentError:
        raise Fail("fit_and_validate could not be checked: the setup cell's TensorDataset and "
                   "DataLoader were replaced in the notebook; do not redefine them") from None


def _numbers(value: Any) -> list[float] | None:
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for v in value:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.append(float(v))
    return out


def _losses(got: Any, epochs: int) -> tuple[list[float], list[float]]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Fail("fit_and_validate should return a pair (train_losses, val_losses), but it "
                   f"returned {describe_value(got)}")
    lists = [_numbers(v) for v in got]
    for values, name in zip(lists, ("train_losses", "val_losses"), strict=True):
        if values is None:
            raise Fail(f"{name} should be a list of numbers (one per epoch)")
        if len(values) != epochs:
            raise Fail(f"{name} holds {len(values)} losses for {epochs} epochs; expected one per "
                       "epoch")
    return lists[0], lists[1]


def _close(a: float, b: float, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _all_close(got: list[float], want: list[float]) -> bool:
    return len(got) == len(want) and all(_close(a, w) for a, w in zip(got, want, strict=True))


def _data(g: torch.Generator, n: int, n_val: int, d: int) -> tuple[torch.Tensor, ...]:
    w = torch.randn(d, 1, generator=g)
    X = torch.randn(n + n_val, d, generator=g)
    Y = X @ w + 0.5 + 0.3 * torch.randn(n + n_val, 1, generator=g)
    return X[:n], Y[:n], X[n:], Y[n:]


def _replay(W: torch.Tensor, b: torch.Tensor, data: tuple[torch.Tensor, ...], bs: int, vbs: int,
            epochs: int, lr: float, *, opt: str = "adam", train_avg: str = "weighted",
            val_avg: str = "weighted", val_first: bool = False, val_steps: bool = False,
            ) -> tuple[list[float], list[float], torch.Tensor, torch.Tensor]:
    """The run with one of the usual mistakes switched on: (train, val, weight, bias)."""
    X, Y, Xv, Yv = data
    layer = nn.Linear(X.shape[1], 1)
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)

    def make() -> torch.optim.Optimizer:
        if opt == "sgd":
            return torch.optim.SGD(layer.parameters(), lr=lr)
        return torch.optim.Adam(layer.parameters(), lr=lr)

    def mean(pairs: list[tuple[int, float]], how: str) -> float:
        if how == "sum":
            return sum(v for _, v in pairs)
        if how == "plain":
            return sum(v for _, v in pairs) / len(pairs)
        return sum(k * v for k, v in pairs) / sum(k for k, _ in pairs)

    def validate() -> float:
        pairs = []
        for s in range(0, len(Xv), vbs):
            xb, yb = Xv[s:s + vbs], Yv[s:s + vbs]
            cost = torch.nn.functional.mse_loss(layer(xb), yb)
            if val_steps:
                optimizer.zero_grad()
                cost.backward()
                optimizer.step()
            pairs.append((len(xb), cost.item()))
        return mean(pairs, val_avg)

    optimizer = make()
    train, val = [], []
    for _ in range(epochs):
        if opt == "adam_per_epoch":
            optimizer = torch.optim.Adam(layer.parameters(), lr=lr)
        if val_first:
            val.append(validate())
        pairs = []
        for s in range(0, len(X), bs):
            xb, yb = X[s:s + bs], Y[s:s + bs]
            cost = torch.nn.functional.mse_loss(layer(xb), yb)
            optimizer.zero_grad()
            cost.backward()
            optimizer.step()
            pairs.append((len(xb), cost.item()))
        train.append(mean(pairs, train_avg))
        if not val_first:
            val.append(validate())
    return train, val, layer.weight.detach().clone(), layer.bias.detach().clone()


_TRAIN_HINTS = (
    ({"opt": "sgd"}, "the losses are those of plain SGD: use torch.optim.Adam(model.parameters(), "
                     "lr=lr)"),
    ({"opt": "adam_per_epoch"}, "a new optimizer is created every epoch, which throws away "
                                "Adam's running averages: create it once, before the first epoch"),
    ({"train_avg": "sum"}, "you summed the training batch losses: the epoch's training loss is "
                           "their mean weighted by batch size"),
    ({"train_avg": "plain"}, "you averaged the training batch losses without weighting them by "
                             "batch size, sum(B_k * loss_k) / sum(B_k)"),
)
_VAL_HINTS = (
    ({"val_avg": "sum"}, "you summed the validation batch losses: the validation loss is the "
                         "mean per example, the batch losses weighted by batch size"),
    ({"val_avg": "plain"}, "you averaged the validation batch losses without weighting them by "
                           "batch size: a smaller last batch must count only as much as its "
                           "examples"),
    ({"val_first": True}, "each validation loss was measured BEFORE the epoch's training: "
                          "measure it after the epoch's updates"),
    ({"val_steps": True}, "the validation batches changed the weights: never call backward or "
                          "step on validation data"),
)


def _setup(ctx) -> tuple:
    g = ctx.generator()     # seeded per test: each test gets its own data
    d = _randint(g, 2, 4)
    data = _data(g, 8, 5, d)
    W = torch.randn(1, d, generator=g) * 0.5
    b = torch.randn(1, generator=g) * 0.5
    return data, W, b


def _run_student(ctx, data, W, b, bs, vbs, epochs, lr) -> tuple[Any, Any]:
    X, Y, Xv, Yv = data
    layer = _worker_linear(ctx, X.shape[1])
    layer.load_state_dict({"weight": W.clone(), "bias": b.clone()})
    got = ctx.student.fit_and_validate(layer, _worker_loader(ctx, X, Y, bs),
                                       _worker_loader(ctx, Xv, Yv, vbs), epochs, lr)
    return got, layer


def _run_reference(ctx, data, W, b, bs, vbs, epochs, lr) -> tuple[list[float], list[float], nn.Linear]:
    X, Y, Xv, Yv = data
    layer = nn.Linear(X.shape[1], 1)
    layer.load_state_dict({"weight": W.clone(), "bias": b.clone()})
    train, val = ctx.ref.fit_and_validate(layer, DataLoader(TensorDataset(X, Y), batch_size=bs),
                                          DataLoader(TensorDataset(Xv, Yv), batch_size=vbs),
                                          epochs, lr)
    return [float(v) for v in train], [float(v) for v in val], layer


@test("fit_and_validate", 1.5,
      "fit_and_validate: training and validation losses of every epoch (Adam, F.mse_loss)")
def fit_losses(ctx) -> None:
    data, W, b = _setup(ctx)
    bs, vbs, epochs, lr = 3, 2, 4, 0.05        # batches of 3, 3, 2 and of 2, 2, 1
    got, _ = _run_student(ctx, data, W, b, bs, vbs, epochs, lr)
    train, val = _losses(got, epochs)
    want_train, want_val, _ = _run_reference(ctx, data, W, b, bs, vbs, epochs, lr)
    train_ok, val_ok = _all_close(train, want_train), _all_close(val, want_val)
    if train_ok and val_ok:
        return
    hints: list[str] = []
    for kwargs, hint in _TRAIN_HINTS + _VAL_HINTS:
        t, v, _, _ = _replay(W, b, data, bs, vbs, epochs, lr, **kwargs)
        if (train_ok or _all_close(train, t)) and (val_ok or _all_close(val, v)):
            hints.append(hint)
            break
    if not hints:
        if not train_ok:
            hints.append("the training losses differ: one Adam step per training mini-batch on "
                         "F.mse_loss(model(x), y), each batch's loss measured before its update, "
                         "weighted by batch size")
        if not val_ok:
            hints.append("the validation losses differ: after each epoch's updates, the "
                         "batch-size-weighted mean of F.mse_loss over all validation batches, "
                         "without changing any weight")
    right = [name for name, ok in (("training", train_ok), ("validation", val_ok)) if ok]
    head = (f"the {right[0]} losses are right, but " if right else "the losses are wrong: ")
    raise Fail(head + "; ".join(hints), (train_ok + val_ok) / 2)


@test("fit_and_validate", 0.75,
      "fit_and_validate: trains the given model in place; validation leaves the weights alone")
def fit_weights(ctx) -> None:
    data, W, b = _setup(ctx)
    bs, vbs, epochs, lr = 4, 3, 3, 0.05
    _, layer = _run_student(ctx, data, W, b, bs, vbs, epochs, lr)
    weight, bias = layer.weight, layer.bias
    if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
        raise Fail("the model's weight and bias could not be read after training")
    _, _, ref = _run_reference(ctx, data, W, b, bs, vbs, epochs, lr)
    if torch.equal(weight, W) and torch.equal(bias, b):
        raise Fail("the model passed to fit_and_validate did not change: optimise "
                   "model.parameters() of that very model (train it in place, not a copy)")
    if torch.allclose(weight, ref.weight.detach(), rtol=1e-4, atol=1e-6) \
            and torch.allclose(bias, ref.bias.detach(), rtol=1e-4, atol=1e-6):
        return
    _, _, w2, b2 = _replay(W, b, data, bs, vbs, epochs, lr, val_steps=True)
    if torch.allclose(weight, w2, rtol=1e-4, atol=1e-6) and torch.allclose(bias, b2, rtol=1e-4, atol=1e-6):
        raise Fail("the validation batches changed the weights: validation must only measure "
                   "(no backward, no optimizer step)")
    raise Fail("after training, the model's weights differ from one Adam step per training "
               "mini-batch on F.mse_loss with the given lr (check zero_grad, the optimizer, the "
               "number of epochs, and that validation changes nothing)", 0.25)


def _dropout_net(d: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, hidden), nn.Dropout(0.5), nn.Linear(hidden, 1))


def _dropout_model(ctx, g: torch.Generator, d: int, hidden: int) -> Any:
    """Linear, Dropout(0.5), Linear in the worker, with weights drawn here from ``g``."""
    model = _worker(ctx, "Sequential", _worker(ctx, "Linear", d, hidden),
                    _worker(ctx, "Dropout", 0.5), _worker(ctx, "Linear", hidden, 1))
    state = {key: torch.randn(value.shape, generator=g) * 0.5
             for key, value in _dropout_net(d, hidden).state_dict().items()}
    model.load_state_dict(state)
    return model


@test("fit_and_validate", 1.25,
      "fit_and_validate: validates in eval mode, returns Python floats, ends in train mode")
def fit_modes(ctx) -> None:
    g = ctx.generator()
    d, hidden, epochs = 3, 16, 2
    X, Y, Xv, Yv = _data(g, 10, 6, d)
    model = _dropout_model(ctx, g, d, hidden)
    got = ctx.student.fit_and_validate(model, _worker_loader(ctx, X, Y, 4),
                                       _worker_loader(ctx, Xv, Yv, 4), epochs, 0.01)
    train, val = _losses(got, epochs)
    problems, earned = [], 0.0
    # The last validation loss must be the loss of the final weights with dropout off.
    replica = _dropout_net(d, hidden)
    try:
        replica.load_state_dict(model.state_dict())
    except (RuntimeError, TypeError, AttributeError):
        raise Fail("the model's state_dict could not be read after fit_and_validate") from None
    replica.eval()
    with torch.no_grad():
        want = torch.nn.functional.mse_loss(replica(Xv), Yv).item()
    if _close(val[-1], want):
        earned += 0.6
    else:
        problems.append("on a model with dropout, the last validation loss is not the loss of "
                        "the trained model in evaluation mode: call model.eval() before "
                        "validating (dropout must be off), after the epoch's updates")
    if model.training is True:
        earned += 0.2
    else:
        problems.append("after fit_and_validate the model should be back in training mode: call "
                        "model.train() after validating")
    values = list(got[0]) + list(got[1])
    if all(isinstance(v, float) for v in values):
        earned += 0.2
    else:
        problems.append("the losses should be Python floats (cost.item()), not tensors")
    if not all(math.isfinite(v) for v in train + val):
        problems.append("some losses are NaN or infinite")
        earned = min(earned, 0.5)
    if problems:
        raise Fail("; ".join(problems), earned)


_NO_GRAD = ("no_grad", "inference_mode", "set_grad_enabled")


@test("fit_and_validate", 0.5, "fit_and_validate: validation under torch.no_grad()",
      kind="static")
def fit_no_grad(ctx) -> None:
    names = [name for _, name in static.names_used(ctx.sources(), "fit_and_validate")]
    if not any(part in _NO_GRAD for name in names for part in name.lstrip(".=").split(".")):
        raise Fail("the validation should run under torch.no_grad() (with torch.no_grad(): ...): "
                   "no graph is needed there, and none should be built")
