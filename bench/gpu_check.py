"""Every GPU check for ps5 in one run (scripts/gpu_check.sh calls this on the GPU runner).

Grades the reference, the lecture CNN, the MLP and a blank ps5 on the chosen device and
prints, as JSON lines and a final summary: scores, the threshold test's accuracy,
per-submission wall time, GPU memory per worker, and the throughput of N concurrent
workers on one GPU (each with a 1/N memory share) for N = 1, 4, 8.

    python bench/gpu_check.py [--device cuda] [--concurrency 1 4 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import torch

from grader import config
from grader.baselines import baseline
from grader.grade.runner import grade_notebook
from grader.samples import build_submission

PS = "ps5_mnist_cnn"


def submissions(workdir: Path) -> dict[str, Path]:
    cases = {"reference": {}, "lecture_cnn": {"replace": baseline("lecture_cnn")},
             "mlp": {"replace": baseline("mlp")}, "blank": {"answers": "blank"}}
    paths = {}
    for name, kwargs in cases.items():
        paths[name] = workdir / f"{name}.ipynb"
        nbformat.write(build_submission(PS, **kwargs), paths[name])
    return paths


def summarize(name: str, result, wall: float) -> dict:
    threshold = next((t for t in result.tests if "threshold" in t.name), None)
    return {"submission": name, "score": result.score, "max_score": result.max_score,
            "threshold_passed": bool(threshold and threshold.passed),
            "accuracy": threshold.extra.get("accuracy") if threshold else None,
            "plain_accuracy": threshold.extra.get("plain_accuracy") if threshold else None,
            "train_seconds": threshold.extra.get("train_seconds") if threshold else None,
            "wall_seconds": round(wall, 2), "worker": result.extra.get("worker_stats", {}),
            "isolated": result.extra.get("worker_isolated")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 8])
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "CUDA is not available here"}))
        return 2
    profile = config.resolve_profile(args.device)
    out: dict = {"device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
                 "torch": torch.__version__, "profile": profile.name,
                 "budget_s": profile.train_budget_s, "threshold": profile.mnist_threshold,
                 "floor": profile.mnist_floor, "single": [], "throughput": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths = submissions(Path(tmp))
        for name, path in paths.items():
            start = time.perf_counter()
            result = grade_notebook(path, PS, profile=profile)
            row = summarize(name, result, time.perf_counter() - start)
            out["single"].append(row)
            print(json.dumps(row), flush=True)
        for n in args.concurrency:
            share = 1.0 / n if args.device == "cuda" else None

            def one(i: int, share=share):
                start = time.perf_counter()
                result = grade_notebook(paths["reference"], PS, profile=profile, memory_fraction=share)
                return summarize(f"reference#{i}", result, time.perf_counter() - start)

            start = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                rows = list(pool.map(one, range(n)))
            wall = time.perf_counter() - start
            row = {"workers": n, "wall_seconds": round(wall, 2),
                   "per_hour": round(3600 * n / wall, 1),
                   "all_passed": all(r["threshold_passed"] for r in rows),
                   "max_gpu_mb_per_worker": max((r["worker"].get("cuda_max_reserved_mb", 0) for r in rows),
                                                default=0)}
            out["throughput"].append(row)
            print(json.dumps(row), flush=True)
    base = out["throughput"][0]["per_hour"] if out["throughput"] else None
    for row in out["throughput"]:
        row["speedup_vs_1"] = round(row["per_hour"] / base, 2) if base else None
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
