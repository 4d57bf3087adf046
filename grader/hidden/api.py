"""The hidden tests' whole view of a submission: a context, randomness, the errors they meet.

A hidden test is ``fn(ctx: Context)``. It calls the student's code through ``ctx.student``
(proxies into the worker: arguments go as data, results come back as data or as handles to
objects that stay there), the reference through ``ctx.ref``, and asks the worker for the
few things beyond calls through ``ctx.worker``. Nothing here knows the transport: the grading
layer (``grade/``) builds the context over a worker session, and the faults of the student's
code arrive as the types of ``grader.faults``, re-exported here. So a hidden test never
imports the sandbox (``tests/test_architecture.py`` checks it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ..config import Profile, Settings
from ..faults import (
    NotDefined,
    OverBudget,
    RuleBroken,
    StudentError,
    SubmissionTimeout,
    WorkerFault,
    WorkerTimeout,
)
from .framework import HiddenTest


class WorkerSession(Protocol):
    """What a hidden test may ask of the worker besides calling the student's code.

    What the worker answers about itself (``describe``) is the student's code talking: a
    test may word a message with it, never award points on it (``facts`` computes facts
    from data instead).
    """

    rule_breaches: dict[str, list[str]]   # function -> what its rule's traps caught

    def put(self, value: Any) -> Any:
        """Send data to the worker; a handle to the copy that lives there."""

    def builtin(self, name: str, *args: Any, **options: Any) -> Any:
        """Run one of the worker's own helpers (``sandbox.worker_builtins``)."""

    def describe(self, obj: Any) -> dict:
        """The worker's description of an object it holds (untrusted words)."""

    def holds(self, obj: Any) -> bool:
        """Whether ``obj`` is a handle to an object that stays in the worker."""

    def construct(self, name: str, attr: str, *args: Any) -> Any:
        """``name.attr(*args)`` in the notebook's namespace (e.g. ``nn.Linear(3, 1)``), as a handle."""

    def cpu_seconds(self) -> float:
        """CPU seconds the worker has used so far, read from the host."""

    def restart(self) -> None:
        """End the worker (and all it started); the next call gets a fresh one."""


@dataclass
class Context:
    """What a hidden test sees: the student's code (by proxy), the reference, the run."""

    worker: WorkerSession
    settings: Settings
    student: Any          # ``ctx.student.some_function(...)``: a proxy with this test's options
    ref: Any              # the reference solutions, a module run from the source notebook
    solutions: dict[str, str]
    profile: Profile
    test: HiddenTest
    seed: int
    facts: dict[str, Any] = field(default_factory=dict)   # shown beside the result (ps5)
    student_sources: tuple[str, ...] = ()

    @property
    def device(self) -> str:
        return self.profile.device

    def generator(self, offset: int = 0) -> torch.Generator:
        """This test's random stream: the same inputs every time the notebook is graded."""
        return torch.Generator().manual_seed(self.seed + offset)

    def source(self, grade_id: str | None = None) -> str:
        return self.solutions.get(grade_id or self.test.grade_id, "")

    def sources(self) -> list[str]:
        """Every cell the student wrote or could change, in notebook order (static rules)."""
        return list(self.student_sources) or list(self.solutions.values())

    def cpu_budget(self, name: str, **kwargs: Any) -> float:
        """CPU seconds the student's ``name(**kwargs)`` may use: the reference's cost of the
        same call times ``Limits.budget_factor``, at least ``budget_floor_cpu_s``."""
        limits = self.profile.limits
        return max(limits.budget_floor_cpu_s,
                   limits.budget_factor * reference_cpu_seconds(self.ref, name, **kwargs))


_COSTS: dict[tuple[str, str, str], float] = {}
_COSTS_LOCK = threading.Lock()


def reference_cpu_seconds(ref: Any, name: str, **kwargs: Any) -> float:
    """CPU seconds of this thread that the reference's ``name(**kwargs)`` takes, measured
    once per process (a batch pays it once). The thread's own clock, so neither the other
    jobs of a batch nor the machine's load move it much; torch's intra-op threads are not
    counted, which is right for the small tensors of the calls budgeted this way.

    >>> import types
    >>> ref = types.SimpleNamespace(__file__="demo", spin=lambda n: sum(range(n)))
    >>> reference_cpu_seconds(ref, "spin", n=10**6) > reference_cpu_seconds(ref, "spin", n=10)
    True
    """
    key = (str(getattr(ref, "__file__", id(ref))), name, repr(sorted(kwargs.items())))
    with _COSTS_LOCK:
        if key not in _COSTS:
            start = time.thread_time()
            getattr(ref, name)(**kwargs)
            _COSTS[key] = time.thread_time() - start
        return _COSTS[key]


def randint(g: torch.Generator, lo: int, hi: int) -> int:
    """A random int in [lo, hi] from a test's generator.

    >>> g = torch.Generator().manual_seed(0)
    >>> all(3 <= randint(g, 3, 5) <= 5 for _ in range(20))
    True
    """
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


__all__ = ["Context", "NotDefined", "OverBudget", "RuleBroken", "StudentError", "SubmissionTimeout",
           "WorkerFault", "WorkerSession", "WorkerTimeout", "randint", "reference_cpu_seconds"]
