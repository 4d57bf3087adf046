"""Benchmark ps5's reference CNN on the CPU: training time and test accuracy, plain and shifted.

Run from the repository root: ``python bench/ps5_train_cpu.py [--budget 170]``. It fetches
MNIST if needed, trains the reference solution from the source notebook with its own
``build_model``/``train_model`` under the time budget, and prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.data.mnist import ensure_mnist, load_split
from grader.hidden.mnist_eval import shift_images  # the grader's own shifts
from grader.notebooks.solutions import execute_reference


def auto_threads() -> int:
    """Cores not already busy. On a shared machine, two OpenMP threads competing with other
    processes for two cores wait on each other at every barrier and can be several times
    slower than one thread, so count only the cores that the load average leaves free."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    busy = os.getloadavg()[0]
    return max(1, min(cores or 1, int(cores - busy + 0.5)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=170.0, help="train_model's time budget (s)")
    parser.add_argument("--threads", default="auto",
                        help="torch threads: a number, or 'auto' (the cores that the current "
                             "load average leaves free, at least one)")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed before build_model")
    parser.add_argument("--shift-seed", type=int, default=12345, help="seed of the test-digit shifts")
    parser.add_argument("--root", type=Path, default=None, help="data root (default: see grader.data)")
    args = parser.parse_args()

    torch.set_num_threads(auto_threads() if args.threads == "auto" else int(args.threads))
    ensure_mnist(args.root, progress=False)
    train_images, train_labels = load_split(args.root, train=True)
    test_images, test_labels = load_split(args.root, train=False)
    with contextlib.redirect_stdout(sys.stderr):  # setup cells print; stdout is the JSON only
        ref = vars(execute_reference("ps5_mnist_cnn", quiet=False))

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    torch.manual_seed(args.seed)
    model = ref["build_model"]()
    started = time.perf_counter()
    model = ref["train_model"](model, train_images, train_labels, "cpu", args.budget)
    train_s = time.perf_counter() - started
    history = getattr(model, "history", [])

    def accuracy(images: torch.Tensor) -> float:
        return round(100 * ref["evaluate_accuracy"](model, images, test_labels, "cpu"), 2)

    result = {
        "budget_s": args.budget,
        "train_seconds": round(train_s, 1),
        "within_budget": train_s <= args.budget,
        "epochs": history[-1]["epoch"] if history else 0,
        "epoch_end_seconds": [row["seconds"] for row in history],
        "accuracy_pct": {
            "plain": accuracy(test_images),
            "shift_1px": accuracy(shift_images(test_images, args.shift_seed, 1)),
            "shift_2px": accuracy(shift_images(test_images, args.shift_seed, 2)),
        },
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "load_average_start_end": [load_at_start, [round(x, 2) for x in os.getloadavg()]],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
