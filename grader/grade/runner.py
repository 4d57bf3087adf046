"""Grade one notebook: restore it, run it in a worker, run public and hidden tests.

Everything the student's code produces reaches this process as data; every fault becomes
a ``TestResult`` with a message, and grading always reaches the last test.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import torch

from .. import config
from ..config import GpuSlot
from ..course import Course
from ..hidden import hidden_rules_for, hidden_tests_for
from ..hidden.framework import Fail, HiddenTest, seed_for
from ..notebooks import cells as nbcells
from ..notebooks.restore import restore
from ..notebooks.solutions import load_reference_module
from ..results import CellRun, GradeResult, TestResult
from ..sandbox.client import RuleBroken, StudentError, SubmissionTimeout, WorkerFault, WorkerTimeout
from .public import public_globals
from .session import Session, StudentNamespace


@dataclass
class Context:
    """What a hidden test sees: the student's code (by proxy) and the reference."""

    session: Session
    student: StudentNamespace
    ref: Any
    solutions: dict[str, str]
    profile: config.Profile
    test: HiddenTest
    seed: int
    facts: dict[str, Any] = field(default_factory=dict)
    student_sources: tuple[str, ...] = ()

    @property
    def device(self) -> str:
        return self.profile.device

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + offset)

    def source(self, grade_id: str | None = None) -> str:
        return self.solutions.get(grade_id or self.test.grade_id, "")

    def sources(self) -> list[str]:
        """Every cell the student wrote or could change, in notebook order (static rules)."""
        return list(self.student_sources) or list(self.solutions.values())


UNSANDBOXED_NOTE = ("WARNING: graded WITHOUT the worker sandbox (bubblewrap): the student's code "
                    "could read and change this machine's files. Fine for checking your own work; "
                    "never for grades.")


def _quiet_print(*args: Any, **kwargs: Any) -> None:
    """Public tests print progress for students; in the grader it goes nowhere."""


def _student_message(grade_id: str, exc: StudentError) -> str:
    if exc.type == "NotImplementedError":
        return f"{grade_id} is not implemented yet (it raised NotImplementedError)"
    if exc.type == "LookupError" and "not defined" in exc.message:
        return exc.message
    return f"{grade_id} raised {exc.type}: {exc.message}"[:600]


@dataclass
class TestRunner:
    """Runs test bodies, turning every outcome into a ``TestResult``.

    After a student's function hangs or kills the worker, its remaining tests are not run
    again (each would cost a timeout and a restart); they get the same message.
    """

    cell_errors: dict[str, str] = field(default_factory=dict)
    faulted: dict[str, str] = field(default_factory=dict)

    def run(self, name: str, grade_id: str, points: float, kind: str, body, *,
            target: str | None = None) -> TestResult:
        target = target or grade_id
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        if target in self.faulted:
            return TestResult(name, grade_id, 0.0, points, f"not run: {self.faulted[target]}",
                              kind=kind)
        try:
            said = body()
            score, output = points, said if isinstance(said, str) else "passed"
        except Fail as f:
            score, output = round(points * f.fraction, 4), f.message
        except AssertionError as exc:  # public tests fail with their own assert messages
            score, output = 0.0, str(exc) or "an assertion in the public test failed"
        except RuleBroken as exc:
            score, output = 0.0, f"{target} breaks its rule: {exc}"
        except StudentError as exc:
            score, output = 0.0, _student_message(target, exc)
            if exc.type == "LookupError" and target in self.cell_errors:
                output += f" (its cell raised {self.cell_errors[target]})"
        except SubmissionTimeout as exc:
            score, output = 0.0, f"not run: {exc}"
        except WorkerTimeout as exc:
            score, output = 0.0, f"{target}: the code {exc} (an endless loop, or too slow); it was stopped"
            self.faulted[target] = output
        except WorkerFault as exc:
            score, output = 0.0, f"{target} could not be checked: {exc}"
            self.faulted[target] = output
        except Exception as exc:  # a hidden test must never stop the notebook
            score, output = 0.0, (f"could not be checked: the answer led to {type(exc).__name__} "
                                  "(often a value of an unexpected type or shape)")
            extra["grader_traceback"] = traceback.format_exc(limit=4)[-2000:]
        seconds = time.perf_counter() - start
        return TestResult(name=name, grade_id=grade_id, score=score, max_score=points,
                          output=output, kind=kind, seconds=seconds, extra=extra)


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


def grade_notebook(path: Path | str, assignment: str, *, device: str = "auto",
                   course: Course | None = None, profile: config.Profile | None = None,
                   gpu: GpuSlot | None = None, only: set[str] | None = None,
                   threads: int | None = None, sandbox: bool = True,
                   progress: Callable[[int, int, str], None] | None = None) -> GradeResult:
    """Grade one submission.

    ``only`` limits grading to some grade_ids or test names (debugging, corpora,
    calibration); a test picked by name (``"public: test_predict"`` or a hidden test's
    name) runs alone, without the rest of its grade_id.
    ``sandbox=False`` runs the worker without bubblewrap (a student's own check on a
    machine without it); the result says so in ``sandboxed`` and in its notes.
    ``progress(done, total, what)`` hears of each step (a ps5 grading takes minutes).
    """
    progress = progress or (lambda done, total, what: None)
    course = course or Course.from_env()
    path = Path(path)
    profile = profile or config.resolve_profile(device)
    started = time.perf_counter()
    source_path = course.source_notebook(assignment)
    source_nb = nbformat.read(str(source_path), as_version=4)
    ref = load_reference_module(str(source_path))
    tests = [t for t in hidden_tests_for(assignment)
             if only is None or t.grade_id in only or t.name in only]
    result = GradeResult(assignment=assignment, notebook=path.name, profile=profile.name,
                         device=profile.device)

    submission, problem = read_submission(path)
    if submission is None:
        result.execution_time = time.perf_counter() - started
        return _all_zero(result, source_nb, tests, problem or "not gradable")

    restored = restore(submission, source_nb)
    result.notes.extend(restored.notes)
    limits = config.limits_for(profile, cuda_slot=gpu and gpu.device,
                               memory_fraction=gpu and gpu.memory_fraction, threads=threads,
                               sandbox=sandbox, course_root=course.root)
    if not sandbox:
        result.notes.append(UNSANDBOXED_NOTE)
    if gpu is not None:
        result.extra["gpu_slot"] = {"device": gpu.device, "share": gpu.index,
                                    "memory_fraction": gpu.memory_fraction}
    session = Session([c.source for c in restored.cells], limits)
    runner = TestRunner()
    publics = [c for c in source_nb.cells if nbcells.is_public_test(c)]
    steps = 1 + len(publics) + len(tests)
    progress(0, steps, f"running the notebook ({len(restored.cells)} cells)")
    cell_errors = runner.cell_errors
    try:
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
                cell_errors[cell.grade_id] = error

        names = [nbcells.grade_id(c) for c in source_nb.cells if nbcells.is_code_solution(c)]
        public_ns = StudentNamespace(session, names, sync=True).as_dict()
        for n, cell in enumerate(publics):
            gid = nbcells.grade_id(cell) or ""
            progress(1 + n, steps, f"public test {gid}")
            target = gid.removeprefix("test_")
            if only is not None and target not in only and f"public: {gid}" not in only:
                continue

            def body(src=cell.source, gid=gid):
                # A local print, not redirect_stdout: that swaps sys.stdout for every thread
                # of a parallel batch and can leave it pointing at a buffer.
                exec(compile(src, f"<public test {gid}>", "exec"),
                     public_globals(session, public_ns, _quiet_print))

            result.tests.append(runner.run(f"public: {gid}", gid, nbcells.points(cell), "public",
                                           body, target=target))

        student_sources = tuple(c.source for c in restored.cells if c.origin != "instructor")
        rules = hidden_rules_for(assignment)
        earned: dict[str, float] = {}
        behaviour = {t.grade_id for t in tests if t.kind != "static"}
        # Behaviour first: a rule about *how* an answer is computed only earns points for
        # an answer that works (a blank cell trivially has no loops).
        for n, test in enumerate(sorted(tests, key=lambda t: t.kind == "static")):
            progress(1 + len(publics) + n, steps, f"hidden test {test.name}")
            if (test.kind == "static" and test.grade_id in behaviour
                    and earned.get(test.grade_id, 0.0) <= 0.0):
                result.tests.append(TestResult(
                    test.name, test.grade_id, 0.0, test.points,
                    f"not checked yet: {test.grade_id} has to pass its other tests first",
                    kind=test.kind))
                continue
            seed = seed_for(test.name, config.HIDDEN_SEED_BASE)
            ctx = Context(session, StudentNamespace(session, names, seed=seed, rules=rules), ref,
                          restored.solutions, profile, test, seed, student_sources=student_sources)
            if test.timeout_s is not None:
                ctx.student = StudentNamespace(session, names, seed=seed, timeout=test.timeout_s)
            outcome = runner.run(test.name, test.grade_id, test.points, test.kind,
                                 lambda t=test, c=ctx: t.fn(c))
            outcome.extra.update(ctx.facts)  # e.g. ps5's accuracy and confusion matrix
            result.tests.append(outcome)
            if test.kind != "static":
                earned[test.grade_id] = earned.get(test.grade_id, 0.0) + outcome.score
        if session.worker is not None and session.worker.alive:
            with contextlib.suppress(Exception):
                stats = session.worker.request({"op": "stats"},
                                               timeout=limits.stats_timeout_s)[1]
                if isinstance(stats, dict):
                    result.extra["worker_stats"] = {str(k): round(float(v), 1)
                                                    for k, v in stats.items()}
        order = {t.name: i for i, t in enumerate(tests)}
        result.tests.sort(key=lambda t: (t.kind != "public", order.get(t.name, -1)))
    finally:
        session.close()
    progress(steps, steps, "done")
    result.extra["worker_starts"] = session.starts
    if session.ready_s is not None:  # where the time went, for benchmarks and the GPU check
        result.extra["worker_ready_seconds"] = round(session.ready_s, 2)
        result.extra["notebook_seconds"] = round(session.started_s, 2)
    result.extra["sandboxed"] = sandbox
    # Where no memory cgroup could be made, only the per-process rlimit holds (none on CUDA).
    result.extra["host_memory_capped"] = session.memory_capped
    if session.starts and not session.memory_capped and limits.memory_bytes is None:
        result.notes.append("this worker's host memory was not capped: the machine gave the "
                            "grader no memory cgroup, and CUDA cannot start under an address-space limit")
    result.execution_time = time.perf_counter() - started
    return result
