"""ps5's pass/fail does not depend on how busy the machine is (issue 10's acceptance).

    python bench/load_independence.py [--seed 0] [--hogs 2] [--jobs 2]

Grades the lecture CNN and the 784-256-10 MLP (grader/baselines.py) on ps5's threshold
test twice: once alone, one at a time on an idle machine, and once inside a batch at
``--jobs`` while ``--hogs`` CPU-bound processes run beside it. The budget is CPU time at
one thread read from the host, so both runs should train the same number of steps and
land on the same side of the threshold. Prints one JSON object: both rows per model,
whether pass/fail agree, and the ratios loaded/alone of the budget used and of wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate_threshold import calibrate

from grader import config

HOG = "while True:\n    pass\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=["lecture_cnn", "mlp"])
    args = parser.parse_args()
    profile = config.PROFILES["cpu"]
    quiet = lambda row: None  # noqa: E731

    started = time.perf_counter()
    alone = calibrate(profile, args.models, [args.seed], jobs=1, on_row=quiet)
    alone_s = time.perf_counter() - started
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(args.hogs)]
    try:
        started = time.perf_counter()
        loaded = calibrate(profile, args.models, [args.seed], jobs=args.jobs, on_row=quiet)
        loaded_s = time.perf_counter() - started
    finally:
        for h in hogs:
            h.kill()

    def verdict(row: dict) -> bool:
        return row["accuracy"] is not None and row["accuracy"] >= profile.mnist_threshold

    models = {}
    for a, b in zip(alone, loaded, strict=True):
        models[a["model"]] = {
            "alone": {k: a[k] for k in ("accuracy", "plain_accuracy", "train_seconds", "wall_seconds")},
            "loaded": {k: b[k] for k in ("accuracy", "plain_accuracy", "train_seconds", "wall_seconds")},
            "passes_alone": verdict(a), "passes_loaded": verdict(b),
            "same_pass_fail": verdict(a) == verdict(b),
            "accuracy_delta": round((b["accuracy"] or 0) - (a["accuracy"] or 0), 5),
            "budget_used_ratio": round(b["train_seconds"] / a["train_seconds"], 3)
            if a["train_seconds"] and b["train_seconds"] else None,
            "wall_ratio": round(b["wall_seconds"] / a["wall_seconds"], 3),
        }
    out = {"profile": profile.name, "budget_s": profile.train_budget_s,
           "budget_clock": profile.budget_clock, "threshold": profile.mnist_threshold,
           "hogs": args.hogs, "jobs": args.jobs, "seed": args.seed, "models": models,
           "same_pass_fail": all(m["same_pass_fail"] for m in models.values()),
           "cnn_passes_mlp_fails": models.get("lecture_cnn", {}).get("passes_loaded") is True
           and models.get("mlp", {}).get("passes_loaded") is False,
           "alone_seconds": round(alone_s, 1), "loaded_seconds": round(loaded_s, 1)}
    print(json.dumps(out, indent=1))
    return 0 if out["same_pass_fail"] else 1


if __name__ == "__main__":
    sys.exit(main())
