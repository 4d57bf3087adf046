"""A worker for one submission that comes back after a fault.

A timeout or a crash kills the worker; the next test gets a fresh one that re-runs the
notebook's cells, so one endless loop costs one test, not the whole notebook.
"""

from __future__ import annotations

import time
from typing import Any

from ..faults import (
    OverBudget,
    RuleBroken,
    StudentError,
    SubmissionTimeout,
    WorkerDied,
    WorkerFault,
    WorkerTimeout,
)
from ..sandbox.client import RemoteObject, Worker
from ..sandbox.limits import Limits


class Session:
    """The hidden tests' ``ctx.worker`` (``hidden.api.WorkerSession``) and the public tests'
    proxies' way into the worker of one submission."""

    def __init__(self, sources: list[str], limits: Limits, *, max_restarts: int = 12) -> None:
        self.sources = sources
        self.limits = limits
        self.max_restarts = max_restarts
        self.worker: Worker | None = None
        self.starts = 0
        self.forked = 0    # starts forked from the pre-imported parent (``sandbox.prefork``)
        self.first_run: list[dict] | None = None
        self.bad_cells: dict[int, dict] = {}
        self.sandboxed = False
        self.memory_capped = False
        self.deadline: float | None = None  # set at the first start: the submission's time
        self.defined: set[str] = set()
        self.started_s = 0.0
        # function name -> what its rule's traps caught while it ran (``sandbox.traps``)
        self.rule_breaches: dict[str, list[str]] = {}
        self.ready_s: float | None = None  # first start: until the worker answers a ping

    def start(self) -> None:
        """Start a worker and run the notebook's cells, one request per cell.

        A cell that kills the worker or runs past the notebook's time is remembered and
        skipped from then on, so the student's other answers can still be graded.
        """
        if self.deadline is None:
            self.deadline = time.monotonic() + self.limits.submission_timeout_s
        while True:
            if self.starts > self.max_restarts:
                raise WorkerDied("the worker failed too often; the remaining tests were not run")
            if time.monotonic() >= self.deadline:
                raise SubmissionTimeout(f"the submission used up its {self.limits.submission_timeout_s:g}"
                                        " s of grading time; what was left was not run")
            self.close()
            self.starts += 1
            t0 = time.perf_counter()
            self.worker = Worker(self.limits)
            self.worker.hard_deadline = self.deadline
            self.worker.start()
            self.sandboxed = self.worker.sandboxed
            self.forked += self.worker.forked
            self.memory_capped = self.worker.memory_cap is not None
            runs: list[dict] = []
            try:
                self.worker.ping()
                if self.ready_s is None:  # process, imports, CUDA context: paid once per start
                    self.ready_s = time.perf_counter() - t0
                deadline = time.monotonic() + self.limits.notebook_timeout_s
                for i, source in enumerate(self.sources):
                    if i in self.bad_cells:
                        runs.append(self.bad_cells[i])
                        continue
                    remaining = min(max(1.0, deadline - time.monotonic()), self.limits.cell_timeout_s)
                    try:
                        runs.extend(self.worker.exec_cells([source], timeout=remaining))
                    except SubmissionTimeout:
                        raise
                    except WorkerFault as exc:
                        kind = "TimeoutError" if isinstance(exc, WorkerTimeout) else "WorkerDied"
                        self.bad_cells[i] = {"ok": False, "stdout": "", "stderr": "", "seconds": 0.0,
                                             "error": {"type": kind, "message": str(exc)}}
                        raise
            except SubmissionTimeout:
                self.started_s += time.perf_counter() - t0
                raise
            except WorkerFault:
                self.started_s += time.perf_counter() - t0
                continue
            self.started_s += time.perf_counter() - t0
            if self.first_run is None:
                self.first_run = runs
            return

    def ensure(self) -> Worker:
        if self.worker is None or not self.worker.alive:
            self.start()
        assert self.worker is not None
        return self.worker

    def restart(self) -> None:
        """End the worker now (and every thread and process in it); the next call gets a
        fresh one that has run the notebook's cells again."""
        self.close()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def cpu_seconds(self) -> float:
        """The current worker's CPU time so far, from the host (see ``sandbox.fence``)."""
        return self.ensure().cpu_seconds()

    def call(self, name: str, args: tuple, kwargs: dict, **options: Any) -> Any:
        return self.ensure().call({"name": name}, args, kwargs, **options)

    def function(self, name: str, **options: Any) -> StudentFunction:
        return StudentFunction(self, name, options)

    def describe(self, obj: RemoteObject) -> dict:
        return self.ensure().describe(obj)

    def holds(self, obj: Any) -> bool:
        """Whether ``obj`` is a handle to an object that stays in the worker."""
        return isinstance(obj, RemoteObject)

    def construct(self, name: str, attr: str, *args: Any) -> RemoteObject:
        """``name.attr(*args)`` in the notebook's namespace, kept in the worker as a handle."""
        return self.ensure().call({"name": name, "attr": attr}, args, {}, as_handle=True)

    def builtin(self, name: str, *args: Any, **options: Any) -> Any:
        return self.ensure().builtin(name, *args, **options)

    def put(self, value: Any) -> RemoteObject:
        return self.ensure().put(value)


class StudentFunction:
    """A student's function or class by name, callable from trusted code."""

    def __init__(self, session: Session, name: str, options: dict | None = None,
                 budgets: Any = None) -> None:
        self._session, self.__name__ = session, name
        self._options = dict(options or {})
        self._budgets = budgets

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call it in the worker, under its CPU budget where its set gives it one
        (``hidden.api.Budgets``): over budget, the call stops with the student's words."""
        seconds = self._budgets.seconds(self.__name__, args, kwargs) if self._budgets else None
        if seconds is None:
            return self._call(args, kwargs, self._options)
        try:
            return self._call(args, kwargs, {**self._options, "cpu_budget": seconds})
        except OverBudget:
            raise OverBudget(self._budgets.message(self.__name__, args, kwargs, seconds)) from None

    def _call(self, args: tuple, kwargs: dict, options: dict) -> Any:
        """Under a rule, a breach is recorded for the rule's own test and the call is made
        again without the traps: the values can still earn their points, the rule cannot
        (nor a test that runs it with autograd off)."""
        try:
            return self._session.call(self.__name__, args, kwargs, **options)
        except RuleBroken as exc:
            seen = self._session.rule_breaches.setdefault(self.__name__, [])
            if str(exc) not in seen:
                seen.append(str(exc))
            if options.get("grad") is False:
                raise   # a test that switches autograd off is a test of the rule itself
        options = {k: v for k, v in options.items() if k != "rules"}
        return self._session.call(self.__name__, args, kwargs, **options)

    def options(self, **options: Any) -> StudentFunction:
        return StudentFunction(self._session, self.__name__, {**self._options, **options},
                               self._budgets)

    def __repr__(self) -> str:
        return f"<student {self.__name__}>"


class StudentNamespace:
    """``ctx.student.some_function`` -> a proxy with the test's default options.

    ``rules`` (function name -> rule names, see ``sandbox.traps``) are enforced on every
    call of that function made through this namespace, and ``budgets``
    (``hidden.api.Budgets``) give CPU budgets to the calls of the functions it names.
    """

    def __init__(self, session: Session, names: list[str], *,
                 rules: dict[str, tuple[str, ...]] | None = None, budgets: Any = None,
                 **options: Any) -> None:
        self._session, self._names, self._options = session, set(names), options
        self._rules, self._budgets = dict(rules or {}), budgets

    def _function(self, name: str) -> StudentFunction:
        options = dict(self._options)
        if self._rules.get(name):
            options["rules"] = tuple(self._rules[name])
        return StudentFunction(self._session, name, options, self._budgets)

    def __getattr__(self, name: str) -> StudentFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._function(name)

    def as_dict(self) -> dict[str, StudentFunction]:
        return {n: self._function(n) for n in self._names}


__all__ = ["Session", "StudentError", "StudentFunction", "StudentNamespace", "SubmissionTimeout"]
