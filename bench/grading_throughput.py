"""Class-scale throughput: plain `nbgrader autograde` against our grader, on the same notebooks.

Issue 13 asks what an instructor gains over plain nbgrader. For each set this builds one
batch of synthetic submissions (a fixed mix: half the reference, a quarter blank, a quarter
with the demo's mistakes, ``grader.demo.PARTIAL``) and grades the same notebooks three ways,
each from the command line in its own scratch course, as an instructor would run them:

- ``plain``: ``python -m nbgrader autograde`` in a course whose config keeps nbgrader's own
  preprocessors (no grader chain: nbgrader's kernel runs the notebook, public tests only);
- ``ours_jobs1`` and ``ours_jobsN``: ``python -m grader autograde psN --jobs 1 / N`` in a
  copy of this course's config (sandboxed workers, hidden tests, gradebook step included;
  ``--no-feedback``, as plain autograde writes no feedback either).

It prints one JSON object: per set the seconds per submission, submissions per hour, our
speed-up over plain, the gradebook scores per kind of submission, peak memory per worker
(the worker's own ``max_rss_mb``), and where our time went per submission (worker start-up,
the notebook's cells, the tests: ``grader.results.WorkerFacts``). Absolute numbers are this
machine's and its load's (the load average is in the output); compare ratios.

    python bench/grading_throughput.py [--sets ps1,ps2] [--submissions 8] [--jobs 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.config import Settings  # noqa: E402
from grader.course import Course, resolve_assignment  # noqa: E402
from grader.demo import PARTIAL  # noqa: E402
from grader.release import main as release  # noqa: E402
from grader.results import GradeResult  # noqa: E402
from grader.samples import build_submission, write_submission  # noqa: E402

# What plain nbgrader gets: this course's own config (paths, stubs, warning filter, timeouts),
# with nbgrader's default preprocessor chains in place of the course's grader.
PLAIN_CHAINS = '''
from nbgrader.converters import Autograde as _Autograde, GenerateFeedback as _Feedback
c.Autograde.autograde_preprocessors = _Autograde.class_traits()["autograde_preprocessors"].default()
c.Autograde.sanitize_preprocessors = _Autograde.class_traits()["sanitize_preprocessors"].default()
c.GenerateFeedback.preprocessors = _Feedback.class_traits()["preprocessors"].default()
'''


def mix(n: int) -> list[tuple[str, str]]:
    """(student, kind) for ``n`` submissions: half reference, a quarter blank, the rest partial.

    >>> [k for _, k in mix(4)]
    ['reference', 'reference', 'blank', 'partial']
    >>> [k for _, k in mix(2)]
    ['reference', 'partial']
    """
    n_ref, n_blank = (n + 1) // 2, n // 4
    kinds = ["reference"] * n_ref + ["blank"] * n_blank + ["partial"] * (n - n_ref - n_blank)
    return [(f"s{i:03d}-{kind}", kind) for i, kind in enumerate(kinds)]


def _env(course: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_DB_URL", "GRADER_COURSE_ROOT")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("GRADER_DATA_ROOT", str(ROOT / "data"))
    # nbgrader runs `alembic` for a new gradebook: this interpreter's scripts come first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _course(dest: Path, ps: str, plain: bool) -> Course:
    dest.mkdir(parents=True)
    shutil.copytree(ROOT / "source" / ps, dest / "source" / ps)
    if plain:
        course_config = (ROOT / "nbgrader_config.py").read_text()
        (dest / "nbgrader_config.py").write_text(course_config + PLAIN_CHAINS)
        _run(dest, "-m", "nbgrader", "generate_assignment", ps, "--force")
    else:
        shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
        course = Course(dest)
        with contextlib.redirect_stdout(sys.stderr):   # stdout is the JSON report's
            released = release(assignments=[ps], settings=Settings.from_env(course=course))
        if released:
            raise SystemExit(f"could not release {ps} in {dest}")
    return Course(dest)


def _run(cwd: Path, *args: str) -> float:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, *args], cwd=cwd, env=_env(cwd), capture_output=True,
                         text=True, timeout=24 * 3600)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{out.stderr[-3000:]}")
    return time.perf_counter() - start


def _scores(course: Course, ps: str, students) -> dict[str, list[float]]:
    """Gradebook scores per kind of submission (nbgrader's own record, whichever chain wrote it)."""
    from nbgrader.api import Gradebook

    out: dict[str, list[float]] = {}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for student, kind in students:
            sub = gb.find_submission(ps, student)
            out.setdefault(kind, []).append(round(sub.score, 4))
            out.setdefault("max_score", [round(sub.max_score, 4)])
    return out


def _cells_only(r: GradeResult) -> float | None:
    """Seconds running the notebook's cells (restarts included), without the first start-up."""
    w = r.worker
    if w.notebook_seconds is None or w.ready_seconds is None:
        return None
    return max(0.0, w.notebook_seconds - w.ready_seconds)


def _where_time_went(course: Course, ps: str, students) -> dict:
    """Per submission, from the saved results: start-up, notebook, tests, peak worker memory."""
    results = [GradeResult.load(course.results_dir(ps) / f"{s}.json") for s, _ in students]

    def mean(xs) -> float | None:
        xs = [x for x in xs if x is not None]
        return round(statistics.fmean(xs), 3) if xs else None

    rss = [r.worker.stats.get("max_rss_mb") for r in results]
    return {
        "mean_s": {"startup": mean(r.worker.ready_seconds for r in results),
                   # the session counts its starts in with the cells: take the first one out
                   "notebook": mean(_cells_only(r) for r in results),
                   "tests": mean(sum(t.seconds for t in r.tests) for r in results),
                   "grade_total": mean(r.execution_time for r in results)},
        "worker_starts": sum(r.worker.starts for r in results),
        # forked from the pre-imported parent (the rest started from scratch: the first
        # of each job while its parent imports torch, and restarts before it is ready)
        "worker_starts_forked": sum(r.worker.forked for r in results),
        "peak_worker_rss_mb": {"max": max((x for x in rss if x), default=None),
                               "mean": mean(rss)},
        "auto_scores": {kind: [r.score for r, (_, k) in zip(results, students, strict=True)
                               if k == kind] for kind in {k for _, k in students}},
        "auto_max_score": results[0].max_score if results else None,
    }


def _rates(seconds: float, n: int) -> dict:
    return {"seconds": round(seconds, 2), "s_per_submission": round(seconds / n, 3),
            "submissions_per_hour": round(3600 * n / seconds, 1)}


def bench_set(ps: str, n: int, jobs: int, tmp: Path) -> dict:
    students = mix(n)
    ref_course = _course(tmp / ps / "ours1", ps, plain=False)
    notebooks = {"reference": build_submission(ps, course=ref_course),
                 "blank": build_submission(ps, course=ref_course, answers="blank"),
                 "partial": build_submission(ps, course=ref_course,
                                             substitutions=PARTIAL.get(ps, {}))}
    courses = {"plain": _course(tmp / ps / "plain", ps, plain=True), "ours_jobs1": ref_course,
               "ours_jobsN": _course(tmp / ps / "oursN", ps, plain=False)}
    for course in courses.values():
        for student, kind in students:
            write_submission(notebooks[kind], course.root, student, ps)
    out: dict = {"set": ps, "submissions": n, "jobs": jobs,
                 "mix": {k: sum(1 for _, x in students if x == k) for k in notebooks}}
    seconds = _run(courses["plain"].root, "-m", "nbgrader", "autograde", ps)
    out["plain"] = {**_rates(seconds, n), "gradebook_scores": _scores(courses["plain"], ps, students)}
    for name, j in (("ours_jobs1", 1), ("ours_jobsN", jobs)):
        course = courses[name]
        seconds = _run(course.root, "-m", "grader", "autograde", ps, "--jobs", str(j), "--no-feedback")
        out[name] = {**_rates(seconds, n), "gradebook_scores": _scores(course, ps, students),
                     **_where_time_went(course, ps, students)}
    plain = out["plain"]["seconds"]
    out["speedup_over_plain"] = {"jobs1": round(plain / out["ours_jobs1"]["seconds"], 2),
                                 "jobsN": round(plain / out["ours_jobsN"]["seconds"], 2)}
    out["jobsN_over_jobs1"] = round(out["ours_jobs1"]["seconds"] / out["ours_jobsN"]["seconds"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="ps1,ps2", help="comma-separated, e.g. ps1,ps2,ps3,ps4")
    ap.add_argument("--submissions", type=int, default=8, help="per set (the mix is fixed)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="N for --jobs N")
    args = ap.parse_args(argv)
    os.environ["PATH"] = _env(ROOT)["PATH"]   # the release step below runs alembic too
    sets = [resolve_assignment(s) for s in args.sets.split(",") if s]
    report = {"benchmark": "grading throughput vs plain nbgrader autograde",
              "cpus": os.cpu_count(), "loadavg_before": list(os.getloadavg()), "sets": []}
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        for ps in sets:
            report["sets"].append(bench_set(ps, args.submissions, args.jobs, Path(tmp)))
    report["loadavg_after"] = list(os.getloadavg())
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
