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

import contextlib
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
    # One dict for all the hidden tests of one submission: a result an earlier test paid for
    # (a full training run) that a later test may reuse instead of paying again. Only what
    # the student's code returned goes in, never a verdict: each test still decides alone.
    shared: dict[str, Any] = field(default_factory=dict)

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
        """CPU seconds the student's ``name(**kwargs)`` may use (``Budgets.seconds``)."""
        return Budgets(self.ref, self.profile.limits, {name: ""}).seconds(name, (), kwargs)


@dataclass(frozen=True)
class Budgets:
    """CPU budgets for the calls of a student's function that iterates (ps3's ``train_xor``):
    the set's ``BUDGETS`` (function -> what to check when a call runs out), applied to every
    call of that function, from a public test cell or a hidden test alike.

    Why every call: a wrong answer that never converges must cost a bounded multiple of a
    right one, and one unbudgeted call (the public test's) would cost twenty restarts. The
    budget is the reference's cost of the same call times ``Limits.budget_factor``, at least
    ``budget_floor_cpu_s`` (``Limits``, the one home of both).

    >>> import types
    >>> ref = types.SimpleNamespace(__file__="doc", spin=lambda n: sum(range(n)))
    >>> limits = types.SimpleNamespace(budget_factor=5.0, budget_floor_cpu_s=0.5)
    >>> b = Budgets(ref, limits, {"spin": "loop less"})
    >>> b.seconds("spin", (), {"n": 10})
    0.5
    >>> b.seconds("other", (), {}) is None
    True
    >>> b.message("spin", (), {"n": 10, "seed": 7}, 0.5)
    'spin(n=10, seed=...) was stopped after 0.5 CPU seconds, 5 times what the reference needs for the same call: loop less'
    """

    ref: Any
    limits: Any
    hints: dict[str, str]

    def seconds(self, name: str, args: tuple, kwargs: dict) -> float | None:
        """None for a function without a budget, or a call with more than plain data (a
        handle to a student's object is no argument for the reference)."""
        if name not in self.hints or not all(map(_plain, (*args, *kwargs.values()))):
            return None
        cost = reference_cpu_seconds(self.ref, name, *args, **kwargs)
        return max(self.limits.budget_floor_cpu_s, self.limits.budget_factor * cost)

    def message(self, name: str, args: tuple, kwargs: dict, seconds: float) -> str:
        """The student's words for a stopped call; a seed is not shown (a hidden test's)."""
        shown = ", ".join([repr(a)[:40] for a in args]
                          + [f"{k}={'...' if k == 'seed' else repr(v)[:40]}"
                             for k, v in kwargs.items()])
        hint = self.hints.get(name, "")
        return (f"{name}({shown}) was stopped after {seconds:.1f} CPU seconds, "
                f"{self.limits.budget_factor:g} times what the reference needs for the same "
                f"call" + (f": {hint}" if hint else ""))


def _plain(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str, type(None), torch.Tensor))


_COSTS: dict[tuple[str, str, str], float] = {}
_COSTS_LOCK = threading.Lock()


def reference_cpu_seconds(ref: Any, name: str, *args: Any, **kwargs: Any) -> float:
    """CPU seconds of this thread that the reference's ``name(*args, **kwargs)`` takes,
    measured once per process (a batch pays it once). The thread's own clock, so neither the
    other jobs of a batch nor the machine's load move it much; torch's intra-op threads are
    not counted, which is right for the small tensors of the calls budgeted this way. A call
    the reference refuses (a test of bad input) costs what it took to refuse.

    >>> import types
    >>> ref = types.SimpleNamespace(__file__="demo", spin=lambda n: sum(range(n)))
    >>> reference_cpu_seconds(ref, "spin", n=10**6) > reference_cpu_seconds(ref, "spin", n=10)
    True
    """
    key = (str(getattr(ref, "__file__", id(ref))), name, repr((args, sorted(kwargs.items()))))
    with _COSTS_LOCK:
        if key not in _COSTS:
            start = time.thread_time()
            with contextlib.suppress(Exception):
                getattr(ref, name)(*args, **kwargs)
            _COSTS[key] = time.thread_time() - start
        return _COSTS[key]


def randint(g: torch.Generator, lo: int, hi: int) -> int:
    """A random int in [lo, hi] from a test's generator.

    >>> g = torch.Generator().manual_seed(0)
    >>> all(3 <= randint(g, 3, 5) <= 5 for _ in range(20))
    True
    """
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


__all__ = ["Budgets", "Context", "NotDefined", "OverBudget", "RuleBroken", "StudentError",
           "SubmissionTimeout", "WorkerFault", "WorkerSession", "WorkerTimeout", "randint",
           "reference_cpu_seconds"]
