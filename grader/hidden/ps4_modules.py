"""Hidden tests for ps4_modules: nn.Module, Dataset, DataLoader, a training loop, accuracy.

Models, datasets and loaders stay in the worker and come back as ``RemoteObject`` proxies:
their structure is read with ``ctx.session.describe``, their weights are set through
``load_state_dict`` with the keys of their own ``state_dict``, and every number they
produce is compared on the trusted side with the reference run here.

``train_regression`` is checked on a plain ``nn.Linear`` and a ``DataLoader`` built in the
worker from the notebook's locked setup cell (``nn``, ``TensorDataset``, ``DataLoader``),
so a mistake in the student's model class or ``make_loader`` costs points only there.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..sandbox.client import RemoteObject, StudentError
from .framework import Fail, Registry, check_shape, describe_value, score_fraction

registry = Registry()
TESTS = registry.tests
test = registry.test

MODULE = "torch.nn.modules.module.Module"
LINEAR = "torch.nn.modules.linear.Linear"
DATASET = "torch.utils.data.dataset.Dataset"

# The lecture's exam scores (public: they are printed in the notebook).
X_EXAM = torch.tensor([[73.0, 80.0, 75.0], [93.0, 88.0, 93.0], [89.0, 91.0, 90.0],
                       [96.0, 98.0, 100.0], [73.0, 66.0, 70.0]])
Y_EXAM = torch.tensor([[152.0], [185.0], [180.0], [196.0], [142.0]])


def _randint(g: torch.Generator, lo: int, hi: int) -> int:
    """A random int in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


# ---------------------------------------------------------------- helpers: modules


def _construct(ctx, cls: str, *args: Any) -> Any:
    obj = getattr(ctx.student, cls)(*args)
    if isinstance(obj, RemoteObject):
        return obj
    raise Fail(f"{cls}({', '.join(map(repr, args))}) should create a model object, "
               f"but it gave {describe_value(obj)}")


def _linear_layers(info: dict) -> list[str]:
    return [name for name, kind in info.get("modules", []) if kind == LINEAR]


def _check_module(ctx, obj: Any, cls: str, n_in: int, n_out: int, call: str) -> None:
    """One nn.Module subclass holding exactly one nn.Linear(n_in, n_out) and nothing else."""
    info = ctx.session.describe(obj)
    if MODULE not in info.get("mro", []):
        raise Fail(f"{cls} should be a subclass of nn.Module (class {cls}(nn.Module): ...)")
    linears = _linear_layers(info)
    if len(linears) != 1:
        raise Fail(f"{call} should hold exactly one nn.Linear layer, but it holds {len(linears)}")
    shapes = sorted(tuple(shape) for _, shape in info.get("parameters", []))
    want = sorted([(n_out, n_in), (n_out,)])
    if shapes != want:
        raise Fail(f"{call} should have one weight of shape {(n_out, n_in)} and one bias of shape "
                   f"{(n_out,)} (nn.Linear({n_in}, {n_out})), but its parameters have shapes "
                   f"{[tuple(s) for _, s in info.get('parameters', [])]}")
    if info.get("n_parameters") != n_in * n_out + n_out:
        raise Fail(f"{call} should have {n_in * n_out + n_out} parameters, "
                   f"not {info.get('n_parameters')}")


def _load_weights(model: Any, W: torch.Tensor, b: torch.Tensor, what: str) -> None:
    """Set the model's weight and bias through its own state_dict keys."""
    state = model.state_dict()
    keys = list(state)
    shapes = {}
    for key in keys:
        value = state[key]
        shapes[key] = tuple(value.shape) if isinstance(value, torch.Tensor) else None
    weight = [k for k, s in shapes.items() if s == tuple(W.shape)]
    bias = [k for k, s in shapes.items() if s == tuple(b.shape)]
    if len(keys) != 2 or len(weight) != 1 or len(bias) != 1:
        raise Fail(f"{what} should hold exactly one weight of shape {tuple(W.shape)} and one bias of "
                   f"shape {tuple(b.shape)} (one nn.Linear layer), so known weights cannot be loaded")
    model.load_state_dict({weight[0]: W.clone(), bias[0]: b.clone()})


def _worker_linear(ctx, n_in: int) -> Any:
    """An nn.Linear(n_in, 1) created in the worker by torch itself (the setup cell's ``nn``)."""
    try:
        layer = ctx.session.ensure().call({"name": "nn", "attr": "Linear"}, (n_in, 1))
        info = ctx.session.describe(layer)
    except StudentError:
        info, layer = {}, None
    if info.get("type") != LINEAR:
        raise Fail("train_regression could not be checked: the setup cell's `nn` (torch.nn) "
                   "was replaced in the notebook; do not redefine it")
    return layer


def _worker_loader(ctx, X: torch.Tensor, Y: torch.Tensor, batch_size: int) -> Any:
    """A DataLoader(TensorDataset(X, Y), batch_size, shuffle=False) made in the worker."""
    try:
        dataset = ctx.student.TensorDataset(X, Y)
        return ctx.student.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    except StudentError:
        raise Fail("train_regression could not be checked: the setup cell's TensorDataset and "
                   "DataLoader were replaced in the notebook; do not redefine them") from None


# ---------------------------------------------------------------- MultivariateLinearRegressionModel


@test("MultivariateLinearRegressionModel", 1,
      "MultivariateLinearRegressionModel: an nn.Module with one nn.Linear(in_features, 1)")
def regression_model_structure(ctx) -> None:
    g = ctx.generator()
    model = _construct(ctx, "MultivariateLinearRegressionModel")
    _check_module(ctx, model, "MultivariateLinearRegressionModel", 3, 1,
                  "MultivariateLinearRegressionModel() (default in_features=3)")
    ok, sizes = 0, [_randint(g, 1, 4), _randint(g, 5, 12)]
    for k in sizes:
        model = _construct(ctx, "MultivariateLinearRegressionModel", k)
        try:
            _check_module(ctx, model, "MultivariateLinearRegressionModel", k, 1, "the model")
            ok += 1
        except Fail:
            pass
    score_fraction(ok, len(sizes), "with the default in_features the structure is right, but for "
                                   "other values of in_features it is right in only {passed} of "
                                   "{total} cases: build nn.Linear(in_features, 1) from the argument")


@test("MultivariateLinearRegressionModel", 1.5,
      "MultivariateLinearRegressionModel: forward computes x W^T + b for known weights")
def regression_model_forward(ctx) -> None:
    g = ctx.generator()
    cases = [(None, 5)] + [(_randint(g, 1, 8), _randint(g, 1, 9)) for _ in range(3)] + [(4, 1)]
    earned, right, squeezed, bad_in = 0.0, 0, False, False
    for k, n in cases:
        n_in = 3 if k is None else k
        model = _construct(ctx, "MultivariateLinearRegressionModel", *(() if k is None else (k,)))
        W = torch.randn(1, n_in, generator=g)
        b = torch.randn(1, generator=g)
        try:
            _load_weights(model, W, b, "the model")
        except Fail:
            bad_in = True
            continue
        x = torch.randn(n, n_in, generator=g) * 10
        got = model(x)
        want = x @ W.T + b
        if not isinstance(got, torch.Tensor) or got.numel() != n or not got.is_floating_point():
            continue
        close = torch.allclose(got.detach().reshape(-1).double(), want.reshape(-1).double(),
                               rtol=1e-4, atol=1e-4)
        if close and tuple(got.shape) == (n, 1):
            earned += 1
            right += 1
        elif close:
            earned += 0.5
            squeezed = True
    if earned < len(cases):
        parts = [f"forward is right for {right} of {len(cases)} batches with known weights"]
        if squeezed:
            parts.append("the values are right but forward must keep the (N, 1) shape of "
                         "nn.Linear's output (do not squeeze or flatten it)")
        if bad_in:
            parts.append("for some values of in_features the model does not hold one weight of "
                         "shape (1, in_features) and one bias of shape (1,)")
        if not squeezed and not bad_in:
            parts.append("forward should return self.linear(x), i.e. x W^T + b, of shape (N, 1)")
        raise Fail("; ".join(parts), earned / len(cases))


@test("MultivariateLinearRegressionModel", 0.5,
      "MultivariateLinearRegressionModel: the lecture's exam batch gives (5, 1) predictions")
def regression_model_shape(ctx) -> None:
    model = _construct(ctx, "MultivariateLinearRegressionModel")
    got = model(X_EXAM)
    if not isinstance(got, torch.Tensor):
        raise Fail(f"model(x) should return a tensor, but it returned {describe_value(got)}")
    if tuple(got.shape) != (5, 1):
        raise Fail(f"model(x_train) has shape {tuple(got.shape)}, expected (5, 1): keep the "
                   "(N, 1) shape so that it matches y_train in F.mse_loss")
    if got.dtype != torch.float32:
        raise Fail(f"model(x_train) has dtype {got.dtype}, expected torch.float32")


# ---------------------------------------------------------------- ExamScoresDataset


def _dataset_items(ctx, x_data: Any, y_data: Any, X: torch.Tensor, Y: torch.Tensor,
                   ) -> tuple[float, int, list[str]]:
    """(earned, total, problems): half a point per item for x, half for y."""
    ds = ctx.student.ExamScoresDataset(x_data, y_data)
    n = len(X)
    problems: list[str] = []
    try:
        length = len(ds)
    except (StudentError, TypeError) as exc:
        problems.append(f"len(dataset) failed ({type(exc).__name__})")
        length = None
    if length != n and length is not None:
        problems.append("len(dataset) is not the number of examples")
    earned = 0.0 if problems else 1.0
    for i in range(n):
        item = ds[i]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            problems.append(f"dataset[i] should be a pair (x, y), but it is {describe_value(item)}")
            continue
        xi, yi = item
        for value, want, name in ((xi, X[i], "x"), (yi, Y[i], "y")):
            if not isinstance(value, torch.Tensor):
                problems.append(f"{name} of an item should be a tensor, but it is {describe_value(value)}")
            elif tuple(value.shape) != tuple(want.shape):
                problems.append(f"{name} of an item has shape {tuple(value.shape)}, expected "
                                f"{tuple(want.shape)}" + (" (a FloatTensor of one number, not a "
                                                         "scalar)" if name == "y" else ""))
            elif value.dtype != torch.float32:
                problems.append(f"{name} of an item has dtype {value.dtype}, expected torch.float32")
            elif not torch.allclose(value.double(), want.double(), rtol=1e-6, atol=1e-4):
                problems.append(f"{name} of an item has the wrong values (item i must be example i)")
            else:
                earned += 0.5
    return earned, n + 1, list(dict.fromkeys(problems))


def _dataset_fail(earned: float, total: int, problems: list[str], what: str) -> None:
    if problems or earned < total:
        raise Fail(f"{what}: " + "; ".join(problems[:3]), earned / total)


@test("ExamScoresDataset", 1.5, "ExamScoresDataset: length and items for random float tensors")
def dataset_random(ctx) -> None:
    g = ctx.generator()
    earned = total = 0.0
    problems: list[str] = []
    for _ in range(2):
        n, d = _randint(g, 2, 9), _randint(g, 1, 6)
        X = torch.randn(n, d, generator=g) * 50
        Y = torch.randn(n, 1, generator=g) * 50
        e, t, p = _dataset_items(ctx, X, Y, X, Y)
        earned, total, problems = earned + e, total + t, problems + p
    _dataset_fail(earned, int(total), list(dict.fromkeys(problems)),
                  "for random (N, in_features) inputs and (N, 1) targets")


@test("ExamScoresDataset", 1,
      "ExamScoresDataset: nested lists of ints, NumPy arrays and 1-D targets")
def dataset_inputs(ctx) -> None:
    g = ctx.generator()
    earned = total = 0.0
    problems: list[str] = []
    for kind in ("lists", "numpy", "flat"):
        n, d = _randint(g, 2, 7), _randint(g, 2, 5)
        X = torch.randint(0, 100, (n, d), generator=g).float()
        Y = torch.randint(100, 200, (n, 1), generator=g).float()
        if kind == "lists":
            args = ([[int(v) for v in row] for row in X.tolist()], [[int(r[0])] for r in Y.tolist()])
        elif kind == "numpy":
            args = (X.double().numpy(), Y.double().numpy())
        else:
            args = (X.long(), [int(v) for v in Y.flatten().tolist()])
        try:
            e, t, p = _dataset_items(ctx, *args, X, Y)
        except StudentError as exc:
            if exc.type == "NotImplementedError":
                raise
            e, t, p = 0.0, n + 1, [f"ExamScoresDataset raised {exc.type} for "
                                   + {"lists": "nested lists of ints",
                                      "numpy": "float64 NumPy arrays",
                                      "flat": "an int tensor with 1-D targets [y0, y1, ...]"}[kind]]
        earned, total, problems = earned + e, total + t, problems + p
    _dataset_fail(earned, int(total), list(dict.fromkeys(problems)),
                  "items must be float32 tensors of shapes (in_features,) and (1,) whatever the "
                  "input type (lists of ints, NumPy arrays, 1-D targets)")


@test("ExamScoresDataset", 0.5,
      "ExamScoresDataset: a Dataset subclass; ValueError when the lengths differ")
def dataset_errors(ctx) -> None:
    ds = ctx.student.ExamScoresDataset(X_EXAM, Y_EXAM)
    info = ctx.session.describe(ds) if isinstance(ds, RemoteObject) else {}
    if DATASET not in info.get("mro", []):
        raise Fail("ExamScoresDataset should subclass torch.utils.data.Dataset")
    ok = 0
    for x, y in ((X_EXAM, Y_EXAM[:4]), (X_EXAM[:2].tolist(), [[1.0], [2.0], [3.0]])):
        try:
            ctx.student.ExamScoresDataset(x, y)
        except ValueError:
            ok += 1
        except StudentError:
            pass
    score_fraction(ok, 2, "ExamScoresDataset raised ValueError for {passed} of {total} inputs whose "
                          "x_data and y_data have different numbers of examples")


# ---------------------------------------------------------------- make_loader


def _indexed_dataset(ctx, n: int, g: torch.Generator) -> tuple[Any, torch.Tensor]:
    """A TensorDataset in the worker whose example i has target i (to read the order)."""
    X = torch.randn(n, 3, generator=g)
    Y = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    return ctx.student.TensorDataset(X, Y), X


def _read_epoch(loader: Any, X: torch.Tensor, what: str) -> tuple[list[int], list[int]]:
    """(batch sizes, example indices in order); Fail on batches that are not (x, y) pairs."""
    if not isinstance(loader, RemoteObject):
        raise Fail(f"make_loader should return a DataLoader, but it returned {describe_value(loader)}")
    batches = list(loader)
    sizes, order = [], []
    for batch in batches:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2 \
                or not all(isinstance(t, torch.Tensor) for t in batch):
            raise Fail(f"{what}: every batch should be a pair of tensors (x, y), but one is "
                       f"{describe_value(batch)}")
        xb, yb = batch
        if xb.dim() != 2 or yb.dim() != 2 or len(xb) != len(yb):
            raise Fail(f"{what}: a batch of B examples should have x of shape (B, 3) and y of "
                       f"shape (B, 1), but they have shapes {tuple(xb.shape)} and {tuple(yb.shape)}")
        idx = [int(v) if math.isfinite(v) and float(v).is_integer() else -1
               for v in yb.double().flatten().tolist()]
        if any(not 0 <= i < len(X) for i in idx) or xb.shape[1:] != X.shape[1:] \
                or not torch.allclose(xb.double(), X[idx].double()):
            raise Fail(f"{what}: the batches should hold the dataset's examples with each input "
                       "kept together with its own target")
        sizes.append(len(xb))
        order.extend(idx)
    return sizes, order


def _covers(order: list[int], n: int) -> bool:
    return sorted(order) == list(range(n))


@test("make_loader", 1, "make_loader: batch sizes and order without shuffling")
def loader_no_shuffle(ctx) -> None:
    g = ctx.generator()
    n = _randint(g, 11, 23)
    b = _randint(g, 2, 6)
    if n % b == 0:
        n += 1
    ds, X = _indexed_dataset(ctx, n, g)
    earned, problems = 0.0, []
    for batch_size in (b, n + 3):
        loader = ctx.student.make_loader(ds, batch_size, False, _randint(g, 0, 10_000))
        sizes, order = _read_epoch(loader, X, "with shuffle=False")
        want = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
        if sizes == want:
            earned += 0.25
        else:
            problems.append("the batches have the wrong sizes (batch_size examples each, the last "
                            "batch smaller when batch_size does not divide the data, and no "
                            "example dropped)")
        if order and order == list(range(len(order))):
            earned += 0.25  # in order (a missing tail is counted against the sizes)
        elif _covers(order, n):
            problems.append("with shuffle=False the examples must come in the dataset's order")
        if not _covers(order, n):
            problems.append("one epoch must contain every example exactly once")
    if problems:
        raise Fail("; ".join(dict.fromkeys(problems)), earned)


@test("make_loader", 1, "make_loader: the same seed gives the same order")
def loader_same_seed(ctx) -> None:
    g = ctx.generator()
    n = _randint(g, 16, 24)
    ds, X = _indexed_dataset(ctx, n, g)
    batch_size = _randint(g, 3, 5)
    seed = _randint(g, 0, 100_000)
    # Both loaders exist before either is read, so a loader that draws its order from the
    # global random state (instead of its own seeded generator) gives two different orders.
    first = ctx.student.make_loader(ds, batch_size, True, seed)
    second = ctx.student.make_loader(ds, batch_size, True, seed)
    _, order_a = _read_epoch(first, X, "with shuffle=True")
    _, order_b = _read_epoch(second, X, "with shuffle=True")
    if not (_covers(order_a, n) and _covers(order_b, n)):
        raise Fail("with shuffle=True one epoch must still contain every example exactly once")
    if order_a != order_b:
        raise Fail("two loaders made with the same seed gave different orders: pass the loader "
                   "its own generator, DataLoader(..., generator=torch.Generator().manual_seed(seed)), "
                   "instead of relying on the global random state", 0.25)


@test("make_loader", 1, "make_loader: shuffle=True draws a new order per seed and per epoch")
def loader_shuffles(ctx) -> None:
    g = ctx.generator()
    n = _randint(g, 16, 24)
    ds, X = _indexed_dataset(ctx, n, g)
    batch_size = _randint(g, 3, 5)
    seeds = torch.randperm(100_000, generator=g)[:4].tolist()
    orders, loaders = [], []
    for seed in seeds:
        loader = ctx.student.make_loader(ds, batch_size, True, int(seed))
        loaders.append(loader)
        orders.append(tuple(_read_epoch(loader, X, "with shuffle=True")[1]))
    if not all(_covers(list(o), n) for o in orders):
        raise Fail("with shuffle=True one epoch must still contain every example exactly once")
    checks = {
        "with shuffle=True the examples should not come in the dataset's order":
            any(o != tuple(range(n)) for o in orders),
        "different seeds should give different orders (use the seed for the loader's generator)":
            len(set(orders)) > 1,
        "a second pass over the same loader (the next epoch) should give a new order":
            tuple(_read_epoch(loaders[0], X, "with shuffle=True")[1]) != orders[0],
    }
    failed = [msg for msg, ok in checks.items() if not ok]
    if failed:
        raise Fail("; ".join(failed), (len(checks) - len(failed)) / len(checks))


# ---------------------------------------------------------------- train_regression


def _numbers(value: Any) -> list[float] | None:
    """A list/tuple of numbers (or one-number tensors) as floats, else None."""
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for v in value:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.append(float(v))
    return out


def _trajectory(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
                batch_size: int, epochs: int, lr: float, zero_grad: bool = True,
                ) -> list[list[tuple[int, float]]]:
    """(batch size, loss before its update) of every mini-batch, epoch by epoch."""
    layer = nn.Linear(X.shape[1], 1)
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
    opt = torch.optim.SGD(layer.parameters(), lr=lr)
    out = []
    for _ in range(epochs):
        epoch = []
        for start in range(0, len(X), batch_size):
            xb, yb = X[start:start + batch_size], Y[start:start + batch_size]
            cost = torch.nn.functional.mse_loss(layer(xb), yb)
            if zero_grad:
                opt.zero_grad()
            cost.backward()
            opt.step()
            epoch.append((len(xb), cost.item()))
        out.append(epoch)
    return out


def _reference(ctx, W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
               batch_size: int, epochs: int, lr: float) -> tuple[list[float], torch.Tensor, torch.Tensor]:
    """The reference solution's losses and trained weight and bias."""
    model = ctx.ref.MultivariateLinearRegressionModel(X.shape[1])
    model.load_state_dict({k: (W if v.dim() == 2 else b).clone()
                           for k, v in model.state_dict().items()})
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=False)
    losses = ctx.ref.train_regression(model, loader, epochs, lr)
    state = model.state_dict()
    weight = next(v for v in state.values() if v.dim() == 2).clone()
    bias = next(v for v in state.values() if v.dim() == 1).clone()
    return [float(v) for v in losses], weight, bias


def _close(a: float, b: float, rtol: float = 1e-3, atol: float = 1e-4) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _all_close(got: list[float], want: list[float]) -> bool:
    return len(got) == len(want) and all(_close(a, w) for a, w in zip(got, want, strict=True))


def _run_student(ctx, W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
                 batch_size: int, epochs: int, lr: float) -> tuple[Any, Any]:
    layer = _worker_linear(ctx, X.shape[1])
    layer.load_state_dict({"weight": W.clone(), "bias": b.clone()})
    loader = _worker_loader(ctx, X, Y, batch_size)
    return ctx.student.train_regression(layer, loader, epochs, lr), layer


def _losses_or_fail(got: Any, epochs: int) -> list[float]:
    losses = _numbers(got)
    if losses is None:
        raise Fail("train_regression should return a list with one loss (a number) per epoch, "
                   f"but it returned {describe_value(got)}")
    if len(losses) != epochs:
        raise Fail(f"train_regression returned {len(losses)} losses for {epochs} epochs; "
                   "expected one mean loss per epoch")
    return losses


@test("train_regression", 1.5, "train_regression: the lecture's full-batch run from zero weights")
def train_full_batch(ctx) -> None:
    epochs, lr = 21, 1e-5
    W, b = torch.zeros(1, 3), torch.zeros(1)
    got, _ = _run_student(ctx, W, b, X_EXAM, Y_EXAM, 5, epochs, lr)
    losses = _losses_or_fail(got, epochs)
    want, _, _ = _reference(ctx, W, b, X_EXAM, Y_EXAM, 5, epochs + 1, lr)
    ok = sum(_close(a, w) for a, w in zip(losses, want[:epochs], strict=True))
    if ok == epochs:
        return
    if _all_close(losses, want[1:]):
        raise Fail("every loss is the one of the following epoch: record each batch's loss "
                   "before its optimizer step (it is the cost of the weights that made the "
                   "prediction)", ok / epochs)
    if _close(losses[0], want[0]):
        raise Fail(f"the first epoch's loss is right (the lecture's 29661.8), but {epochs - ok} of "
                   f"the {epochs} epoch losses are wrong: make exactly one SGD step per batch with "
                   "the given lr, and call optimizer.zero_grad() before cost.backward() so that "
                   "gradients do not accumulate", ok / epochs)
    raise Fail(f"the epoch losses differ from the lecture's run in {epochs - ok} of {epochs} epochs, "
               "starting with the first (from zero weights it must be 29661.8): use "
               "F.mse_loss(model(x), y) on each batch", ok / epochs)


@test("train_regression", 1.5,
      "train_regression: mini-batches of sizes 2, 2 and 1 (epoch loss weighted by batch size)")
def train_mini_batch(ctx) -> None:
    g = ctx.generator()
    epochs, lr, batch_size = 4, 1e-5, 2
    W = torch.rand(1, 3, generator=g) * 0.8 + 0.2
    b = torch.rand(1, generator=g) - 0.5
    got, _ = _run_student(ctx, W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr)
    losses = _losses_or_fail(got, epochs)
    want, _, _ = _reference(ctx, W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr)
    if _all_close(losses, want):
        return
    runs = _trajectory(W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr)
    hints = [
        ([sum(loss for _, loss in e) / len(e) for e in runs],
         "you averaged the batch losses without weighting them: the epoch loss must be weighted "
         "by batch size, sum(B_k * loss_k) / sum(B_k), so the last batch of 1 counts once"),
        ([sum(loss for _, loss in e) for e in runs],
         "you summed the batch losses: the epoch loss is their mean weighted by batch size, "
         "sum(B_k * loss_k) / sum(B_k)"),
        ([e[-1][1] for e in runs],
         "you returned the last mini-batch's loss: the epoch loss is the mean over all its "
         "mini-batches, weighted by batch size"),
        ([e[0][1] for e in runs],
         "you returned the first mini-batch's loss: the epoch loss is the mean over all its "
         "mini-batches, weighted by batch size"),
        ([sum(n * loss for n, loss in e) / sum(n for n, _ in e)
          for e in _trajectory(W, b, X_EXAM, Y_EXAM, batch_size, epochs, lr, zero_grad=False)],
         "the gradients accumulate from batch to batch: call optimizer.zero_grad() before "
         "cost.backward()"),
    ]
    for values, hint in hints:
        if _all_close(losses, values):
            raise Fail("with mini-batches the epoch losses are wrong: " + hint)
    raise Fail("with mini-batches the epoch losses are wrong: make one SGD step per mini-batch "
               "and report the loss of each epoch as the batch-size-weighted mean of its batch "
               "losses, each measured before its batch's update")


@test("train_regression", 1, "train_regression: trains the given model in place")
def train_weights(ctx) -> None:
    g = ctx.generator()
    n, d, epochs, lr, batch_size = 9, 3, 3, 0.05, 4
    X = torch.randn(n, d, generator=g)
    Y = X @ torch.randn(d, 1, generator=g) + 0.5 + 0.1 * torch.randn(n, 1, generator=g)
    W = torch.randn(1, d, generator=g) * 0.3
    b = torch.zeros(1)
    _, layer = _run_student(ctx, W, b, X, Y, batch_size, epochs, lr)
    weight, bias = layer.weight, layer.bias
    _, want_w, want_b = _reference(ctx, W, b, X, Y, batch_size, epochs, lr)
    if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
        raise Fail("the model's weight and bias could not be read after training")
    if tuple(weight.shape) != (1, d) or tuple(bias.shape) != (1,):
        raise Fail("after training, the model's weight or bias has a different shape: train the "
                   "model's own parameters in place")
    if torch.equal(weight, W) and torch.equal(bias, b):
        raise Fail("the model passed to train_regression did not change: optimise "
                   "model.parameters() of that very model (train it in place, not a copy)")
    w_ok = torch.allclose(weight.double(), want_w.double(), rtol=1e-4, atol=1e-5)
    b_ok = torch.allclose(bias.double(), want_b.double(), rtol=1e-4, atol=1e-5)
    if not (w_ok and b_ok):
        raise Fail("after training, the model's weights differ from one SGD step per mini-batch "
                   "on F.mse_loss with the given lr (check zero_grad, the number of epochs and "
                   "that every batch is used)", 0.25)


@test("train_regression", 1,
      "train_regression: returns a list of Python floats, one per epoch, that decrease")
def train_return_type(ctx) -> None:
    for epochs in (1, 3):
        got, _ = _run_student(ctx, torch.zeros(1, 3), torch.zeros(1), X_EXAM, Y_EXAM, 5, epochs, 1e-5)
        if not isinstance(got, list):
            raise Fail(f"train_regression should return a list, but it returned {describe_value(got)}")
        if len(got) != epochs:
            raise Fail(f"train_regression returned {len(got)} losses for {epochs} epochs; expected "
                       "one per epoch")
        for v in got:
            if isinstance(v, torch.Tensor):
                raise Fail("the losses should be Python floats, not tensors: use cost.item() "
                           "(which also frees the computation graph)", 0.25)
            if isinstance(v, bool) or not isinstance(v, float):
                raise Fail(f"each loss should be a Python float, but one is {describe_value(v)}",
                           0.25)
            if not math.isfinite(v):
                raise Fail("an epoch loss is NaN or infinite", 0.25)
        if any(a <= b for a, b in itertools.pairwise(got)):
            raise Fail("from zero weights with lr 1e-5 the full-batch loss should decrease every "
                       "epoch, but it does not", 0.5)


# ---------------------------------------------------------------- SoftmaxClassifier


@test("SoftmaxClassifier", 1, "SoftmaxClassifier: an nn.Module with one nn.Linear(784, 10)")
def softmax_structure(ctx) -> None:
    model = _construct(ctx, "SoftmaxClassifier")
    _check_module(ctx, model, "SoftmaxClassifier", 784, 10, "SoftmaxClassifier()")


def _softmax_hint(got: torch.Tensor) -> str:
    rows = got.detach().double()
    if bool((rows >= 0).all()) and torch.allclose(rows.sum(dim=1), torch.ones(len(rows), dtype=rows.dtype),
                                                 atol=1e-4):
        return ("the outputs look like probabilities: forward must return the raw logits "
                "x W^T + b and leave the softmax to the loss (nn.CrossEntropyLoss)")
    if bool((rows <= 0).all()):
        return ("the outputs look like log-probabilities: forward must return the raw logits "
                "x W^T + b (nn.CrossEntropyLoss applies log_softmax itself)")
    return "forward must return the logits x W^T + b of its one nn.Linear(784, 10)"


@test("SoftmaxClassifier", 1.25, "SoftmaxClassifier: logits x W^T + b for (N, 784) batches")
def softmax_logits(ctx) -> None:
    g = ctx.generator()
    ok, total, hint = 0, 3, ""
    for _ in range(total):
        n = _randint(g, 1, 12)
        model = _construct(ctx, "SoftmaxClassifier")
        W = torch.randn(10, 784, generator=g) * 0.05
        b = torch.randn(10, generator=g)
        _load_weights(model, W, b, "SoftmaxClassifier")
        x = torch.rand(n, 784, generator=g)
        got = model(x)
        if not isinstance(got, torch.Tensor):
            raise Fail(f"model(x) should return a tensor of logits, not {describe_value(got)}")
        check_shape(got, (n, 10), f"the logits of a ({n}, 784) batch")
        if torch.allclose(got.detach().double(), (x @ W.T + b).double(), rtol=1e-4, atol=1e-4):
            ok += 1
        else:
            hint = _softmax_hint(got)
    if ok < total:
        raise Fail(f"the logits are right for {ok} of {total} batches with known weights: {hint}",
                   ok / total)


@test("SoftmaxClassifier", 0.75, "SoftmaxClassifier: accepts images of shape (N, 1, 28, 28)")
def softmax_images(ctx) -> None:
    g = ctx.generator()
    model = _construct(ctx, "SoftmaxClassifier")
    n = _randint(g, 2, 9)
    images = torch.rand(n, 1, 28, 28, generator=g)
    try:
        from_images = model(images)
    except StudentError as exc:
        raise Fail(f"model(images) for images of shape (N, 1, 28, 28) raised {exc.type}: forward "
                   "should flatten its input to (N, 784) first (x.view(-1, 28 * 28))") from None
    if not isinstance(from_images, torch.Tensor):
        raise Fail(f"model(images) should return a tensor of logits, not {describe_value(from_images)}")
    if tuple(from_images.shape) != (n, 10):
        raise Fail(f"images of shape (N, 1, 28, 28) should give (N, 10) logits, but a batch of {n} "
                   f"gave shape {tuple(from_images.shape)}")
    flat = model(images.reshape(n, 784))
    if not isinstance(flat, torch.Tensor) or flat.shape != from_images.shape \
            or not torch.allclose(from_images.double(), flat.double(), atol=1e-5):
        raise Fail("(N, 1, 28, 28) images and their (N, 784) flattening should give the same logits")


# ---------------------------------------------------------------- accuracy


def _accuracy_value(got: Any, what: str) -> float:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, np.generic):
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise Fail(f"{what}: accuracy should return a number, but it returned {describe_value(got)}")
    return float(got)


@test("accuracy", 1.5, "accuracy: random logits and labels")
def accuracy_random(ctx) -> None:
    g = ctx.generator()
    ok, total, counted = 0, 6, False
    for _ in range(total):
        n, c = _randint(g, 2, 40), _randint(g, 2, 12)
        logits = torch.randn(n, c, generator=g)
        labels = torch.randint(0, c, (n,), generator=g)
        right = torch.rand(n, generator=g) < float(torch.rand(1, generator=g))
        labels = torch.where(right, logits.argmax(dim=1), labels)
        want = float(ctx.ref.accuracy(logits, labels))
        got = _accuracy_value(ctx.student.accuracy(logits, labels), "on random logits")
        if abs(got - want) < 1e-6:
            ok += 1
        elif abs(got - want * n) < 1e-6:
            counted = True
    if ok < total:
        hint = ("accuracy is the fraction of correct predictions (between 0 and 1), not their "
                "count: divide by the number of examples" if counted else
                "the predicted class is the argmax of each row (dim=1), compared with the label")
        raise Fail(f"accuracy is right for {ok} of {total} random batches: {hint}", ok / total)


@test("accuracy", 0.75, "accuracy: returns a Python float in [0, 1]")
def accuracy_type(ctx) -> None:
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.0, 0.2, 0.1], [1.0, 0.0, 2.0]])
    got = ctx.student.accuracy(logits, torch.tensor([1, 0, 2, 2]))
    if isinstance(got, (torch.Tensor, np.ndarray)):
        raise Fail(f"accuracy should return a Python float, not {describe_value(got)}: "
                   "finish with .item()")
    if isinstance(got, bool) or not isinstance(got, float):
        raise Fail(f"accuracy should return a Python float, but it returned {describe_value(got)}")
    if not 0.0 <= got <= 1.0:
        raise Fail("accuracy should be a fraction in [0, 1]")
    if abs(got - 0.75) > 1e-6:
        raise Fail("accuracy returns a float in [0, 1], but not the fraction of rows whose "
                   "argmax equals the label")


@test("accuracy", 0.75, "accuracy: all right, all wrong, a single example")
def accuracy_edges(ctx) -> None:
    g = ctx.generator()
    n, c = _randint(g, 5, 20), _randint(g, 3, 10)
    logits = torch.randn(n, c, generator=g)
    best = logits.argmax(dim=1)
    wrong = (best + torch.randint(1, c, (n,), generator=g)) % c
    cases = [(logits, best, 1.0), (logits, wrong, 0.0), (logits[:1], best[:1], 1.0),
             (logits[:1], wrong[:1], 0.0)]
    ok = 0
    for lg, lb, want in cases:
        got = _accuracy_value(ctx.student.accuracy(lg, lb), "for an edge case")
        ok += abs(got - want) < 1e-6
    score_fraction(ok, len(cases), "accuracy is right for {passed} of {total} edge cases (every "
                                   "prediction right, every prediction wrong, a batch of one)")
