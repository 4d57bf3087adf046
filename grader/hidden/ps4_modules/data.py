"""ExamScoresDataset and make_loader: items, lengths, batch sizes, order and seeding."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..api import StudentError, randint
from ..framework import Fail, Registry, describe_value, score_fraction
from ._common import DATASET, X_EXAM, Y_EXAM

registry = Registry()
TESTS = registry.tests
test = registry.test

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
        n, d = randint(g, 2, 9), randint(g, 1, 6)
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
        n, d = randint(g, 2, 7), randint(g, 2, 5)
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
    info = ctx.worker.describe(ds) if ctx.worker.holds(ds) else {}
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


def _read_epoch(ctx, loader: Any, X: torch.Tensor, what: str) -> tuple[list[int], list[int]]:
    """(batch sizes, example indices in order); Fail on batches that are not (x, y) pairs."""
    if not ctx.worker.holds(loader):
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
    n = randint(g, 11, 23)
    b = randint(g, 2, 6)
    if n % b == 0:
        n += 1
    ds, X = _indexed_dataset(ctx, n, g)
    earned, problems = 0.0, []
    for batch_size in (b, n + 3):
        loader = ctx.student.make_loader(ds, batch_size, False, randint(g, 0, 10_000))
        sizes, order = _read_epoch(ctx, loader, X, "with shuffle=False")
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
    n = randint(g, 16, 24)
    ds, X = _indexed_dataset(ctx, n, g)
    batch_size = randint(g, 3, 5)
    seed = randint(g, 0, 100_000)
    # Both loaders exist before either is read, so a loader that draws its order from the
    # global random state (instead of its own seeded generator) gives two different orders.
    first = ctx.student.make_loader(ds, batch_size, True, seed)
    second = ctx.student.make_loader(ds, batch_size, True, seed)
    _, order_a = _read_epoch(ctx, first, X, "with shuffle=True")
    _, order_b = _read_epoch(ctx, second, X, "with shuffle=True")
    if not (_covers(order_a, n) and _covers(order_b, n)):
        raise Fail("with shuffle=True one epoch must still contain every example exactly once")
    if order_a != order_b:
        raise Fail("two loaders made with the same seed gave different orders: pass the loader "
                   "its own generator, DataLoader(..., generator=torch.Generator().manual_seed(seed)), "
                   "instead of relying on the global random state", 0.25)


@test("make_loader", 1, "make_loader: shuffle=True draws a new order per seed and per epoch")
def loader_shuffles(ctx) -> None:
    g = ctx.generator()
    n = randint(g, 16, 24)
    ds, X = _indexed_dataset(ctx, n, g)
    batch_size = randint(g, 3, 5)
    seeds = torch.randperm(100_000, generator=g)[:4].tolist()
    orders, loaders = [], []
    for seed in seeds:
        loader = ctx.student.make_loader(ds, batch_size, True, int(seed))
        loaders.append(loader)
        orders.append(tuple(_read_epoch(ctx, loader, X, "with shuffle=True")[1]))
    if not all(_covers(list(o), n) for o in orders):
        raise Fail("with shuffle=True one epoch must still contain every example exactly once")
    checks = {
        "with shuffle=True the examples should not come in the dataset's order":
            any(o != tuple(range(n)) for o in orders),
        "different seeds should give different orders (use the seed for the loader's generator)":
            len(set(orders)) > 1,
        "a second pass over the same loader (the next epoch) should give a new order":
            tuple(_read_epoch(ctx, loaders[0], X, "with shuffle=True")[1]) != orders[0],
    }
    failed = [msg for msg, ok in checks.items() if not ok]
    if failed:
        raise Fail("; ".join(failed), (len(checks) - len(failed)) / len(checks))
