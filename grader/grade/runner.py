"""Grade one notebook: restore it, run it in a worker, run public and hidden tests.

Everything the student's code produces reaches this process as data; every fault becomes
a ``TestResult`` with a message, and grading always reaches the last test.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .. import config
from ..config import GpuSlot
from ..course import Course
from ..faults import WorkerFault
from ..hidden import hidden_budgets_for, hidden_rules_for, hidden_tests_for
from ..hidden.api import Budgets, Context
from ..hidden.framework import HiddenTest, seed_for
from ..notebooks import cells as nbcells
from ..notebooks.restore import restore
from ..notebooks.solutions import load_reference_module
from ..results import CellRun, GradeResult, TestResult
from .outcomes import TestRunner
from .public import public_globals
from .session import Session, StudentNamespace

UNSANDBOXED_NOTE = ("WARNING: graded WITHOUT the worker sandbox (bubblewrap): the student's code "
                    "could read and change this machine's files. Fine for checking your own work; "
                    "never for grades.")


def _quiet_print(*args: Any, **kwargs: Any) -> None:
    """Public tests print progress for students; in the grader it goes nowhere."""


def _all_zero(result: GradeResult, source_nb, tests: list[HiddenTest], why: str) -> GradeResult:
    for cell in source_nb.cells:
        if nbcells.is_public_test(cell):
            result.tests.append(TestResult(f"public: {nbcells.grade_id(cell)}",
                                           nbcells.grade_id(cell) or "", 0.0,
                                           nbcells.points(cell), why, kind="public"))
    for t in tests:
        result.tests.append(TestResult(t.name, t.grade_id, 0.0, t.points, why, kind=t.kind))
    result.notes.append(why)
    return result


def read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The notebook, or a student-facing reason why it cannot be graded."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, f"the submission {path.name} cannot be read ({exc.strerror})"
    if size > config.SUBMISSION_MAX_BYTES:
        return None, (f"the submission {path.name} is {size / 1e6:.1f} MB, over the "
                      f"{config.SUBMISSION_MAX_BYTES / 1e6:.0f} MB limit (clear large outputs)")
    try:
        return nbformat.read(str(path), as_version=4), None
    except Exception as exc:
        return None, f"the submission {path.name} is not a valid notebook ({type(exc).__name__})"


@dataclass(frozen=True)
class Plan:
    """What grading one notebook of a set will run: the source, the reference, the tests."""

    source: nbformat.NotebookNode
    ref: Any
    publics: list[nbformat.NotebookNode]
    hidden: list[HiddenTest]
    only: set[str] | None

    @classmethod
    def for_set(cls, course: Course, assignment: str, only: set[str] | None) -> Plan:
        source_path = course.source_notebook(assignment)
        source = nbformat.read(str(source_path), as_version=4)
        hidden = [t for t in hidden_tests_for(assignment)
                  if only is None or t.grade_id in only or t.name in only]
        return cls(source, load_reference_module(str(source_path)),
                   [c for c in source.cells if nbcells.is_public_test(c)], hidden, only)

    def wants_public(self, gid: str) -> bool:
        return self.only is None or gid.removeprefix("test_") in self.only or f"public: {gid}" in self.only

    @property
    def steps(self) -> int:
        return 1 + len(self.publics) + len(self.hidden)


def grade_notebook(path: Path | str, assignment: str, *, device: str = "auto",
                   settings: config.Settings | None = None, profile: config.Profile | None = None,
                   gpu: GpuSlot | None = None, only: set[str] | None = None,
                   threads: int | None = None, sandbox: bool = True,
                   progress: Callable[[int, int, str], None] | None = None) -> GradeResult:
    """Grade one submission: read it, restore its locked cells, run it in a worker, run the
    public tests, then the hidden tests, and record where the time went.

    ``only`` limits grading to some grade_ids or test names (debugging, corpora,
    calibration); a test picked by name (``"public: test_predict"`` or a hidden test's
    name) runs alone, without the rest of its grade_id.
    ``sandbox=False`` runs the worker without bubblewrap (a student's own check on a
    machine without it); the result says so in ``sandboxed`` and in its notes.
    ``progress(done, total, what)`` hears of each step (a ps5 grading takes minutes).
    """
    progress = progress or (lambda done, total, what: None)
    settings = settings or config.Settings.from_env()
    profile = profile or config.resolve_profile(device)
    started = time.perf_counter()
    plan = Plan.for_set(settings.course, assignment, only)
    result = GradeResult(assignment=assignment, notebook=Path(path).name, profile=profile.name,
                         device=profile.device, sandboxed=sandbox)

    submission, problem = read_submission(Path(path))
    if submission is None:
        result.execution_time = time.perf_counter() - started
        return _all_zero(result, plan.source, plan.hidden, problem or "not gradable")

    restored = restore(submission, plan.source)
    result.notes.extend(restored.notes)
    limits = config.limits_for(profile, cuda_slot=gpu and gpu.device,
                               memory_fraction=gpu and gpu.memory_fraction, threads=threads,
                               sandbox=sandbox, private_paths=settings.private_paths())
    if not sandbox:
        result.notes.append(UNSANDBOXED_NOTE)
    if gpu is not None:
        result.gpu_slot = {"device": gpu.device, "share": gpu.index,
                           "memory_fraction": gpu.memory_fraction}
    session = Session([c.source for c in restored.cells], limits)
    budgets = Budgets(plan.ref, limits, hidden_budgets_for(assignment))
    runner = TestRunner()
    progress(0, plan.steps, f"running the notebook ({len(restored.cells)} cells)")
    try:
        _run_notebook(session, restored, result, runner)
        _run_public_tests(plan, session, budgets, runner, result, progress)
        _run_hidden_tests(plan, session, budgets, settings, profile, restored, runner, result,
                          progress)
        _ask_worker_stats(session, limits, result)
    finally:
        session.close()
    progress(plan.steps, plan.steps, "done")
    _record_worker_facts(session, limits, result)
    result.execution_time = time.perf_counter() - started
    return result


def _run_notebook(session: Session, restored, result: GradeResult, runner: TestRunner) -> None:
    """Start the worker, which runs the notebook's cells; note what was skipped or failed."""
    try:
        session.start()
    except WorkerFault as exc:
        result.notes.append(f"the notebook could not be run: {exc}")
    for i in sorted(session.bad_cells):
        cell = restored.cells[i]
        where = f"cell {cell.index}" if cell.index >= 0 else "an instructor cell"
        result.notes.append(f"{where} ({cell.grade_id or 'unnamed'}) was skipped: "
                            f"{session.bad_cells[i]['error']['message']}")
    for cell, run in zip(restored.cells, session.first_run or [], strict=False):
        err = run.get("error") or {}
        error = f"{err.get('type')}: {err.get('message', '')}"[:500] if err else ""
        result.cells.append(CellRun(cell.index, cell.grade_id, cell.origin, bool(run["ok"]),
                                    error, run.get("stdout", ""), run.get("stderr", ""),
                                    float(run.get("seconds", 0.0))))
        if err and cell.grade_id:
            runner.cell_errors[cell.grade_id] = error


def _solution_names(plan: Plan) -> list[str]:
    return [nbcells.grade_id(c) for c in plan.source.cells if nbcells.is_code_solution(c)]


def _run_public_tests(plan: Plan, session: Session, budgets: Budgets, runner: TestRunner,
                      result: GradeResult, progress) -> None:
    """Each public test cell, run here against proxies of the student's functions (under
    the same CPU budgets as in the hidden tests: the public test's call is no cheaper)."""
    public_ns = StudentNamespace(session, _solution_names(plan), sync=True,
                                 budgets=budgets).as_dict()
    for n, cell in enumerate(plan.publics):
        gid = nbcells.grade_id(cell) or ""
        progress(1 + n, plan.steps, f"public test {gid}")
        if not plan.wants_public(gid):
            continue

        def body(src=cell.source, gid=gid):
            # A local print, not redirect_stdout: that swaps sys.stdout for every thread
            # of a parallel batch and can leave it pointing at a buffer.
            exec(compile(src, f"<public test {gid}>", "exec"),
                 public_globals(session, public_ns, _quiet_print))

        result.tests.append(runner.run(f"public: {gid}", gid, nbcells.points(cell), "public",
                                       body, target=gid.removeprefix("test_")))


def _run_hidden_tests(plan: Plan, session: Session, budgets: Budgets, settings: config.Settings,
                      profile: config.Profile, restored, runner: TestRunner,
                      result: GradeResult, progress) -> None:
    """The hidden tests, behaviour first: a rule about *how* an answer is computed only
    earns points for an answer that works (a blank cell trivially has no loops)."""
    names = _solution_names(plan)
    student_sources = tuple(c.source for c in restored.cells if c.origin != "instructor")
    rules = hidden_rules_for(result.assignment)
    earned: dict[str, float] = {}
    behaviour = {t.grade_id for t in plan.hidden if t.kind != "static"}
    shared: dict = {}   # Context.shared: one per submission
    first = 1 + len(plan.publics)
    for n, test in enumerate(sorted(plan.hidden, key=lambda t: t.kind == "static")):
        progress(first + n, plan.steps, f"hidden test {test.name}")
        if (test.kind == "static" and test.grade_id in behaviour
                and earned.get(test.grade_id, 0.0) <= 0.0):
            result.tests.append(TestResult(
                test.name, test.grade_id, 0.0, test.points,
                f"not checked yet: {test.grade_id} has to pass its other tests first",
                kind=test.kind))
            continue
        seed = seed_for(test.name, settings.hidden_seed)
        ctx = Context(session, settings,
                      StudentNamespace(session, names, seed=seed, rules=rules, budgets=budgets),
                      plan.ref, restored.solutions, profile, test, seed,
                      student_sources=student_sources, shared=shared)
        if test.timeout_s is not None:
            ctx.student = StudentNamespace(session, names, seed=seed, rules=rules,
                                           budgets=budgets, timeout=test.timeout_s)
        outcome = runner.run(test.name, test.grade_id, test.points, test.kind,
                             lambda t=test, c=ctx: t.fn(c))
        outcome.extra.update(ctx.facts)  # e.g. ps5's accuracy and confusion matrix
        result.tests.append(outcome)
        if test.kind != "static":
            earned[test.grade_id] = earned.get(test.grade_id, 0.0) + outcome.score
    order = {t.name: i for i, t in enumerate(plan.hidden)}
    result.tests.sort(key=lambda t: (t.kind != "public", order.get(t.name, -1)))


def _ask_worker_stats(session: Session, limits, result: GradeResult) -> None:
    if session.worker is not None and session.worker.alive:
        with contextlib.suppress(Exception):
            stats = session.worker.request({"op": "stats"}, timeout=limits.stats_timeout_s)[1]
            if isinstance(stats, dict):
                result.worker.stats = {str(k): round(float(v), 1) for k, v in stats.items()}


def _record_worker_facts(session: Session, limits, result: GradeResult) -> None:
    """Where the time went (benchmarks, the GPU check) and what held the worker."""
    result.worker.starts = session.starts
    result.worker.forked = session.forked
    if session.ready_s is not None:
        result.worker.ready_seconds = round(session.ready_s, 2)
        result.worker.notebook_seconds = round(session.started_s, 2)
    # Where no memory cgroup could be made, only the per-process rlimit holds (none on CUDA).
    result.host_memory_capped = session.memory_capped
    if session.starts and not session.memory_capped and limits.memory_bytes is None:
        result.notes.append("this worker's host memory was not capped: the machine gave the "
                            "grader no memory cgroup, and CUDA cannot start under an address-space limit")
