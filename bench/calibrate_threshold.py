"""Calibrate ps5's MNIST threshold: lecture CNN vs MLP, seed by seed, through the grader.

    python bench/calibrate_threshold.py --profile cpu --seeds 20 [--jobs 2] [--markdown docs/threshold.md]

Each baseline (grader/baselines.py) is graded as a real submission: trained in a sandboxed
worker within the profile's budget, evaluated on the shifted test digits. On the CPU
profile the budget is CPU time at one thread, so ``--jobs`` up to the core count measures
the same numbers as one at a time, only sooner. Prints one JSON
object: the table (accuracy on the evaluation set, on the plain test set, training time)
and the threshold/floor it suggests: the threshold lets the lecture CNN pass in at least
19 of 20 seeds, the floor sits at the MLP's median, and the MLP must stay below the
threshold in every seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from grader import config
from grader.autograde.gpu_slots import GpuSlots, leased
from grader.baselines import baseline
from grader.config import GpuSlot
from grader.grade.runner import grade_notebook
from grader.hidden.ps5_mnist_cnn import THRESHOLD_TEST
from grader.samples import build_submission
from grader.sandbox import isolation

PS = "ps5_mnist_cnn"
# Benchmarks grade in the sandbox where this machine has one (as autograde does), and
# without it elsewhere; every row says which (``sandboxed``).
SANDBOX = isolation.available()


def run_one(name: str, seed: int, profile: config.Profile, workdir: Path,
            slot: GpuSlot | None = None, threads: int | None = None) -> dict:
    path = workdir / f"{name}-{seed}.ipynb"
    nbformat.write(build_submission(PS, replace=baseline(name, seed)), path)
    started = time.perf_counter()
    result = grade_notebook(path, PS, profile=profile, only={THRESHOLD_TEST}, threads=threads,
                            gpu=slot, sandbox=SANDBOX)
    test = next(t for t in result.tests if t.name == THRESHOLD_TEST)
    extra = test.extra
    return {"model": name, "seed": seed, "accuracy": extra.get("accuracy"),
            "plain_accuracy": extra.get("plain_accuracy"), "train_seconds": extra.get("train_seconds"),
            "wall_seconds": round(time.perf_counter() - started, 1), "message": test.output[:200],
            "sandboxed": SANDBOX}


def suggest(rows: list[dict]) -> dict:
    cnn = sorted(r["accuracy"] for r in rows if r["model"] == "lecture_cnn" and r["accuracy"] is not None)
    mlp = sorted(r["accuracy"] for r in rows if r["model"] == "mlp" and r["accuracy"] is not None)
    if not cnn or not mlp:
        return {}
    allowed_failures = len(cnn) // 20           # 19 of 20 must pass
    threshold = cnn[allowed_failures] - 0.002    # just below the weakest passing seed
    floor = statistics.median(mlp)
    return {"threshold": round(threshold, 4), "floor": round(floor, 4),
            "cnn_pass": sum(a >= threshold for a in cnn), "cnn_runs": len(cnn),
            "mlp_below": sum(a < threshold for a in mlp), "mlp_runs": len(mlp),
            "separates": max(mlp) < threshold}


def calibrate(profile: config.Profile, models: list[str], seeds, jobs: int = 1,
              threads: int | None = None, on_row: Callable[[dict], object] | None = None,
              ) -> list[dict]:
    """Grade every (model, seed) ``jobs`` at a time; on CUDA the jobs share the GPUs as in grading.

    Each row goes to ``on_row`` the moment it is ready (default: a JSON line on stderr), so
    a calibration stopped early still leaves what it measured.
    """
    slots = GpuSlots.for_jobs(jobs) if profile.device == "cuda" else None
    specs = [(m, s) for s in seeds for m in models]
    report = on_row or (lambda row: print(json.dumps(row), file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max(1, jobs)) as pool:

        def job(spec: tuple[str, int]) -> dict:
            with leased(slots) as slot:
                row = run_one(*spec, profile, Path(tmp), slot, threads)
            row["budget_s"], row["budget_clock"] = profile.train_budget_s, profile.budget_clock
            report(row)
            return row

        return list(pool.map(job, specs))


def markdown(rows: list[dict], profile: config.Profile, suggestion: dict) -> str:
    unit = "CPU s at one thread" if profile.budget_clock == "cpu" else "s"
    lines = [f"## Profile `{profile.name}` (budget {profile.train_budget_s:g} {unit}, device "
             f"{profile.device})", "",
             f"| model | seed | evaluation set (shifted) | plain test set | training ({unit}) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['seed']} | {100 * (r['accuracy'] or 0):.2f}% | "
                     f"{100 * (r['plain_accuracy'] or 0):.2f}% | {r['train_seconds']} |")
    lines += ["", f"Suggested: `{json.dumps(suggestion)}`", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=sorted(config.PROFILES))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--budget", type=float, help="override the profile's training budget")
    parser.add_argument("--models", nargs="*", default=["lecture_cnn", "mlp"])
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    profile = config.PROFILES[args.profile]
    if args.budget:
        profile = dataclasses.replace(profile, train_budget_s=args.budget)
    rows = calibrate(profile, args.models, range(args.first_seed, args.first_seed + args.seeds),
                     args.jobs)
    suggestion = suggest(rows)
    out = {"profile": profile.name, "budget_s": profile.train_budget_s, "seeds": args.seeds,
           "rows": rows, "suggested": suggestion,
           "configured": {"threshold": profile.mnist_threshold, "floor": profile.mnist_floor}}
    print(json.dumps(out, indent=1))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        with args.markdown.open("a") as fh:
            fh.write(markdown(rows, profile, suggestion))
    return 0


if __name__ == "__main__":
    sys.exit(main())
