"""Baseline ps5 submissions for calibrating and checking the MNIST threshold.

``lecture_cnn`` is the lecture's own network and recipe (two conv-ReLU-maxpool blocks with
32 and 64 channels, one linear layer, Adam 1e-3, batch 100); ``mlp`` is the
fully connected 784-256-10 network with the same recipe. Both train for as many epochs as
the budget allows. They are answer cells for ``samples.build_submission(replace=...)``.
"""

from __future__ import annotations

_TRAIN = '''
import time
import torch
import torch.nn.functional as F


def train_model(model, images, labels, device, time_budget_s):
    """The lecture's recipe: Adam 1e-3, batch 100, epochs until the budget is nearly spent."""
    # The grader's clock: CPU seconds on the CPU, the wall on a GPU (see the ps5 notebook).
    clock = time.process_time if torch.device(device).type == "cpu" else time.perf_counter
    deadline = clock() + 0.9 * time_budget_s - 0.5
    x = torch.as_tensor(images).float().div(255).unsqueeze(1).to(device)
    y = torch.as_tensor(labels).long().to(device)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(SEED)
    batch_time = 0.0
    while True:
        order = torch.randperm(x.shape[0], generator=generator).to(device)
        for first in range(0, x.shape[0], 100):
            start = clock()
            if start + batch_time > deadline:
                return model.eval()
            idx = order[first:first + 100]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
            batch_time = max(batch_time * 0.9, clock() - start)
'''

_LECTURE_CNN = '''
import torch
import torch.nn as nn

SEED = {seed}


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.layer2 = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(7 * 7 * 64, 10, bias=True)
        nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, x):
        if x.dim() == 3:
            x = x.unsqueeze(1)
        out = self.layer2(self.layer1(x.float()))
        return self.fc(out.flatten(1))
'''

_MLP = '''
import torch
import torch.nn as nn

SEED = {seed}


class CNN(nn.Module):
    """Not a CNN at all: the 784-256-10 perceptron the threshold must reject."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x.float())
'''

_BUILD = '''
def build_model():
    torch.manual_seed(SEED)
    return CNN()
'''


def baseline(name: str, seed: int = 0) -> dict[str, str]:
    """Answer cells (grade_id -> code) that turn the reference into a baseline submission."""
    model = {"lecture_cnn": _LECTURE_CNN, "mlp": _MLP}[name].format(seed=int(seed))
    return {"CNN": model, "build_model": _BUILD, "train_model": _TRAIN}
