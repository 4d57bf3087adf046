"""train_val_split: a reproducible, seeded split that keeps every (x, y) pair together."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..api import StudentError, randint
from ..framework import Fail, Registry, describe_value, score_fraction, unpack

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
        n = randint(g, 5, 40)
        fraction = _FRACTIONS[randint(g, 0, len(_FRACTIONS) - 1)]
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
        n, fraction = _case(g) if i < total - 1 else (randint(g, 2, 4), 0.1)   # clipped to 1
        d = randint(g, 1, 4)
        seed = randint(g, 0, 10_000)
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
        got = _parts(ctx.student.train_val_split(x, y, fraction, randint(g, 0, 999)))
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
    n = randint(g, 20, 40)
    x, y = torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g)
    seed = randint(g, 0, 999)
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
