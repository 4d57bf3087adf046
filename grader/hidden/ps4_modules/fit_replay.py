"""fit_and_validate replayed here: the reference's run and the usual mistakes' runs.

The hidden tests compare the student's per-epoch losses with ``_replay`` of the right
recipe; when they differ, the replays of the mistakes in ``_TRAIN_HINTS`` and ``_VAL_HINTS``
say which one the student made.
"""

from __future__ import annotations

import torch

from ._common import linear_at, mse_pass


def _replay(W: torch.Tensor, b: torch.Tensor, data: tuple[torch.Tensor, ...], bs: int, vbs: int,
            epochs: int, lr: float, *, opt: str = "adam", train_avg: str = "weighted",
            val_avg: str = "weighted", val_first: bool = False, val_steps: bool = False,
            ) -> tuple[list[float], list[float], torch.Tensor, torch.Tensor]:
    """The run with one of the usual mistakes switched on: (train, val, weight, bias)."""
    X, Y, Xv, Yv = data
    layer = linear_at(W, b)

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
        return mean(mse_pass(layer, Xv, Yv, vbs, optimizer if val_steps else None), val_avg)

    optimizer = make()
    train, val = [], []
    for _ in range(epochs):
        if opt == "adam_per_epoch":
            optimizer = torch.optim.Adam(layer.parameters(), lr=lr)
        if val_first:
            val.append(validate())
        train.append(mean(mse_pass(layer, X, Y, bs, optimizer), train_avg))
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
