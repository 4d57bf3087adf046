"""Every GPU check for ps5 in one run (scripts/gpu_check.sh calls this on the GPU runner).

1. Grades the reference, the lecture CNN, the MLP and a blank ps5, one at a time, and
   prints each score, the threshold test's accuracy, the wall time and where it went.
2. Grades N copies of the reference at once on one GPU, each worker holding a 1/N share
   (as ``autograde --jobs N`` does), for N in --concurrency, and prints the throughput and
   the GPU memory each worker used (the peak nvidia-smi saw per process, and torch's own).
3. Grades a class-sized batch (--batch-size, at least 64: every problem set, half reference,
   a quarter with the demo's mistakes, a quarter blank) --batch-jobs at a time on the GPUs,
   as ``autograde --jobs N`` does, and reports submissions per hour and the ratio to serial
   grading (one grading of each set and kind alone, times how often it occurs in the batch).
4. Calibrates the profile: the lecture CNN and the MLP, --calibration-seeds seeds each,
   graded 8 at a time (the packing grading uses; only the threshold test runs), for the
   profile's budget and a shorter one (--calibration-budgets), with the threshold and floor
   each suggests, so that one run on the runner is enough to choose the GPU numbers.

Every row is printed as one JSON line the moment it is known (and appended to --out), so a
run stopped early still reports what it measured; the summary at the end checks issue 5's
acceptance numbers. ``--device cpu`` with small budgets rehearses the whole path without a GPU.

    python bench/gpu_check.py [--device cuda] [--concurrency 1 4 8] [--calibration-seeds 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import torch
from calibrate_threshold import PS, SANDBOX, calibrate, suggest

from grader import config
from grader.autograde.gpu_slots import GpuSlots, leased, visible_devices
from grader.baselines import baseline
from grader.grade.runner import grade_notebook
from grader.hidden.ps5_mnist_cnn import THRESHOLD_TEST
from grader.results import GradeResult
from grader.samples import build_submission
from grader.sandbox import isolation

REFERENCE_WALL_LIMIT_S = 20.0   # issue 5: the reference ps5 grades in at most 20 s on the GPU
SPEEDUP_TARGET = 4.0            # issue 5: 8 workers on one GPU give at least 4x one worker


class Report:
    """JSON lines to stdout and to a file that survives a stopped run."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.rows: list[dict] = []
        self._lock = threading.Lock()   # calibration rows arrive from several threads

    def emit(self, section: str, row: dict) -> dict:
        row = {"section": section, **row}
        line = json.dumps(row)
        with self._lock:
            self.rows.append(row)
            print(line, flush=True)
            if self.out:
                with self.out.open("a") as fh:
                    fh.write(line + "\n")
        return row


class GpuMemorySampler:
    """Peak GPU memory per process, as nvidia-smi sees it (CUDA context included)."""

    def __init__(self, period_s: float = 0.5) -> None:
        self.period_s = period_s
        self.peak_mb: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = shutil.which("nvidia-smi") is not None

    def _run(self) -> None:
        cmd = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                text = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
            except (OSError, subprocess.SubprocessError):
                return
            for line in text.splitlines():
                pid, _, used = line.partition(",")
                try:
                    mb = float(used)
                except ValueError:
                    continue
                if pid.strip() != str(os.getpid()):   # the trusted side is not a worker
                    self.peak_mb[pid.strip()] = max(mb, self.peak_mb.get(pid.strip(), 0.0))
            self._stop.wait(self.period_s)

    def __enter__(self) -> GpuMemorySampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.available:
            self._thread.join(timeout=10)


def gpu_name() -> str:
    """The card's name without a CUDA context here: this process must not show up as a worker."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or "CUDA device (nvidia-smi unavailable)"


def submissions(workdir: Path) -> dict[str, Path]:
    cases = {"reference": {}, "lecture_cnn": {"replace": baseline("lecture_cnn")},
             "mlp": {"replace": baseline("mlp")}, "blank": {"answers": "blank"}}
    paths = {}
    for name, kwargs in cases.items():
        paths[name] = workdir / f"{name}.ipynb"
        nbformat.write(build_submission(PS, **kwargs), paths[name])
    return paths


def summarize(name: str, result: GradeResult, wall: float) -> dict:
    threshold = next((t for t in result.tests if t.name == THRESHOLD_TEST), None)
    facts = threshold.extra if threshold else {}
    slowest = sorted(result.tests, key=lambda t: -t.seconds)[:3]
    return {"submission": name, "score": result.score, "max_score": result.max_score,
            "threshold_passed": bool(threshold and threshold.passed),
            "accuracy": facts.get("accuracy"), "plain_accuracy": facts.get("plain_accuracy"),
            "train_seconds": facts.get("train_seconds"), "wall_seconds": round(wall, 2),
            "slowest_tests": {t.name: round(t.seconds, 2) for t in slowest},
            "outside_tests_seconds": round(wall - sum(t.seconds for t in result.tests), 2),
            "worker_ready_seconds": result.worker.ready_seconds,
            "worker_forked": result.worker.forked,
            "notebook_seconds": result.worker.notebook_seconds,
            "worker": result.worker.stats,
            "sandboxed": result.sandboxed, "notes": result.notes[:3]}


def grade_packed(path: Path, profile: config.Profile, n: int, devices: list[str]) -> tuple[list[dict], float]:
    """N gradings of one notebook at once, each worker holding its own share of the GPU."""
    slots = GpuSlots(devices, per_gpu=n) if devices else None
    threads = config.threads_per_worker(n)

    def one(i: int) -> dict:
        start = time.perf_counter()
        with leased(slots) as slot:
            result = grade_notebook(path, PS, profile=profile, threads=threads, gpu=slot,
                                    sandbox=SANDBOX)
        return summarize(f"{path.stem}#{i}", result, time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        rows = list(pool.map(one, range(n)))
    return rows, time.perf_counter() - start


KINDS = ("reference", "partial", "blank")


def batch_mix(n: int, sets: list[str]) -> list[tuple[str, str]]:
    """(set, kind) for a batch of ``n``: the sets in turn; per set half reference, then a
    quarter with the demo's mistakes and a quarter blank.

    >>> batch_mix(8, ["ps1", "ps2"])[:4]
    [('ps1', 'reference'), ('ps2', 'reference'), ('ps1', 'partial'), ('ps2', 'partial')]
    >>> sorted({k for _, k in batch_mix(64, ["a", "b", "c", "d", "e"])})
    ['blank', 'partial', 'reference']
    """
    cycle = ["reference", "partial", "reference", "blank"]
    return [(sets[i % len(sets)], cycle[(i // len(sets)) % len(cycle)]) for i in range(n)]


def batch_submissions(workdir: Path, mix: list[tuple[str, str]]) -> dict[tuple[str, str], Path]:
    from grader.demo import PARTIAL

    paths = {}
    for ps, kind in sorted(set(mix)):
        kwargs = {"answers": "blank"} if kind == "blank" else \
                 {"substitutions": PARTIAL[ps]} if kind == "partial" else {}
        paths[ps, kind] = workdir / f"{ps}-{kind}.ipynb"
        nbformat.write(build_submission(ps, **kwargs), paths[ps, kind])
    return paths


def grade_batch(items: list[tuple[str, Path]], profile: config.Profile, jobs: int,
                devices: list[str]) -> tuple[list[GradeResult], float]:
    """Every (set, notebook) graded ``jobs`` at a time, each worker on its own GPU share."""
    slots = GpuSlots.for_jobs(jobs, devices=devices) if devices else None   # as autograde spreads
    threads = config.threads_for(profile, jobs)

    def one(item: tuple[str, Path]) -> GradeResult:
        with leased(slots) as slot:
            return grade_notebook(item[1], item[0], profile=profile, threads=threads, gpu=slot,
                                  sandbox=SANDBOX)

    start = time.perf_counter()
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        results = list(pool.map(one, items))
    return results, time.perf_counter() - start


def batch_check(report: Report, profile: config.Profile, devices: list[str], size: int,
                jobs: int, workdir: Path, sets: list[str] | None = None) -> dict:
    """The class-sized batch against serial grading of the same mix (issue 13)."""
    from grader.course import Course

    mix = batch_mix(size, sets or list(Course().problem_sets()))
    paths = batch_submissions(workdir, mix)
    serial: dict[tuple[str, str], float] = {}
    for key, path in paths.items():                     # each set and kind once, alone
        results, wall = grade_batch([(key[0], path)], profile, 1, devices)
        serial[key] = wall
        report.emit("batch_serial", {"set": key[0], "kind": key[1], "wall_seconds": round(wall, 2),
                                     "score": results[0].score, "max_score": results[0].max_score})
    results, wall = grade_batch([(ps, paths[ps, kind]) for ps, kind in mix], profile, jobs, devices)
    serial_s = sum(serial[key] for key in mix)
    full = [r.score == r.max_score for r, (_, k) in zip(results, mix, strict=True) if k == "reference"]
    return report.emit("batch", {
        "submissions": size, "sets": sorted({ps for ps, _ in mix}), "jobs": jobs,
        "wall_seconds": round(wall, 2), "per_hour": round(3600 * size / wall, 1),
        "serial_estimate_seconds": round(serial_s, 1),
        "serial_per_hour": round(3600 * size / serial_s, 1),
        "speedup_vs_serial": round(serial_s / wall, 2),
        "references_full_marks": all(full),
        "blanks_zero": all(r.score == 0 for r, (_, k) in zip(results, mix, strict=True) if k == "blank"),
        "worker_starts": sum(r.worker.starts for r in results),
        # forked from the pre-imported parent; 0 on a GPU means the parent refused (CUDA's
        # driver loaded by an import) and every worker started from scratch
        "worker_starts_forked": sum(r.worker.forked for r in results),
        "mean_startup_s": round(sum(r.worker.ready_seconds or 0 for r in results) / size, 2)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 8])
    parser.add_argument("--calibration-seeds", type=int, default=20, help="per model; 0 skips")
    parser.add_argument("--calibration-jobs", type=int, default=8)
    parser.add_argument("--calibration-budgets", type=float, nargs="*",
                        help="training budgets to calibrate (default: the profile's and 3/4 of it)")
    parser.add_argument("--budget", type=float, help="override the MNIST training budget (rehearsal)")
    parser.add_argument("--quick-budget", type=float, help="override the easy-task budget (rehearsal)")
    parser.add_argument("--batch-size", type=int, default=64, help="class-sized batch (all sets)")
    parser.add_argument("--batch-jobs", type=int, default=8, help="its submissions graded at once")
    parser.add_argument("--skip", nargs="*", default=[], choices=("single", "throughput", "batch"))
    parser.add_argument("--out", type=Path, help="append every JSON row here as well")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "CUDA is not available here"}))
        return 2
    profile = config.resolve_profile(args.device)
    if args.budget:
        profile = dataclasses.replace(profile, train_budget_s=args.budget)
    if args.quick_budget:
        profile = dataclasses.replace(profile, quick_budget_s=args.quick_budget)
    devices = visible_devices() if args.device == "cuda" else []
    report = Report(args.out)
    report.emit("setup", {
        "device": gpu_name() if args.device == "cuda" else "cpu",
        "gpus": devices, "cpus": os.cpu_count(), "torch": torch.__version__,
        "python": sys.version.split()[0], "profile": profile.name,
        "budget_s": profile.train_budget_s, "quick_budget_s": profile.quick_budget_s,
        "threshold": profile.mnist_threshold, "floor": profile.mnist_floor})
    # Issue 9: the worker trains on the GPU inside bubblewrap; this row says what it binds.
    limits = config.limits_for(profile, cuda_slot=devices[0] if devices else None)
    report.emit("sandbox", {"available": SANDBOX, "why_not": isolation.probe(),
                            **(isolation.describe(limits, sys.executable) if SANDBOX else {})})

    single: dict[str, dict] = {}
    throughput: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = submissions(Path(tmp))
        if "single" not in args.skip:
            for name, path in paths.items():
                rows, _ = grade_packed(path, profile, 1, devices)
                single[name] = report.emit("single", {**rows[0], "submission": name})
        if "throughput" not in args.skip:
            for n in args.concurrency:
                with GpuMemorySampler() as sampler:
                    rows, wall = grade_packed(paths["reference"], profile, n, devices)
                smi = sorted(sampler.peak_mb.values())
                throughput.append(report.emit("throughput", {
                    "workers": n, "wall_seconds": round(wall, 2),
                    "per_hour": round(3600 * n / wall, 1),
                    "all_full_marks": all(r["score"] == r["max_score"] for r in rows),
                    "mean_submission_wall_s": round(sum(r["wall_seconds"] for r in rows) / n, 2),
                    "gpu_mb_per_worker_smi_max": smi[-1] if smi else None,
                    "gpu_mb_per_worker_smi_median": smi[len(smi) // 2] if smi else None,
                    "gpu_mb_per_worker_torch_reserved_max": max(
                        (r["worker"].get("cuda_max_reserved_mb", 0) for r in rows), default=0)}))
        batch = batch_check(report, profile, devices, args.batch_size, args.batch_jobs,
                            Path(tmp)) if "batch" not in args.skip else {}
    calibration: dict = {}
    budgets = args.calibration_budgets or [profile.train_budget_s,
                                           round(0.75 * profile.train_budget_s, 1)]
    for budget in budgets if args.calibration_seeds > 0 else []:
        start = time.perf_counter()
        rows = calibrate(dataclasses.replace(profile, train_budget_s=budget),
                         ["lecture_cnn", "mlp"], range(args.calibration_seeds),
                         args.calibration_jobs,
                         threads=config.threads_per_worker(args.calibration_jobs),
                         on_row=lambda row: report.emit("calibration", row))
        summary = report.emit("calibration_summary", {
            "budget_s": budget, "seeds_per_model": args.calibration_seeds,
            "jobs": args.calibration_jobs, "wall_seconds": round(time.perf_counter() - start, 1),
            "suggested": suggest(rows)})
        if budget == profile.train_budget_s:
            calibration = summary
    base = throughput[0]["per_hour"] if throughput and throughput[0]["workers"] == 1 else None
    speedups = {str(r["workers"]): round(r["per_hour"] / base, 2) for r in throughput} if base else {}
    ref, cnn, mlp, blank = (single.get(k, {}) for k in ("reference", "lecture_cnn", "mlp", "blank"))
    acceptance = {
        "reference_full_marks": ref.get("score") == ref.get("max_score") if ref else None,
        "reference_wall_s": ref.get("wall_seconds"),
        "reference_within_20s": ref["wall_seconds"] <= REFERENCE_WALL_LIMIT_S if ref else None,
        "lecture_cnn_passes": cnn.get("threshold_passed") if cnn else None,
        "mlp_fails": (not mlp["threshold_passed"]) if mlp else None,
        "blank_scores_zero": blank.get("score") == 0 if blank else None,
        "speedup_vs_1": speedups,
        "eight_workers_at_least_4x": speedups["8"] >= SPEEDUP_TARGET if "8" in speedups else None,
        "calibration_separates": calibration.get("suggested", {}).get("separates"),
        "graded_in_the_sandbox": bool(single) and all(r.get("sandboxed") for r in single.values()),
        "batch_per_hour": batch.get("per_hour"),
        "batch_speedup_vs_serial": batch.get("speedup_vs_serial"),
        "batch_references_full_marks": batch.get("references_full_marks"),
    }
    report.emit("acceptance", acceptance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
