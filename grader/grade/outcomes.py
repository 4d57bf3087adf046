"""Every way a test can end, turned into a ``TestResult`` with a message for the student.

A test passes, fails with its own message (``Fail``, a public test's assert), breaks a rule
on *how*, or meets a fault of the student's code (an exception, a hang, a dead worker);
none of these may stop the notebook's other tests.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from ..faults import (
    NotDefined,
    OverBudget,
    RuleBroken,
    StudentError,
    SubmissionTimeout,
    WorkerFault,
    WorkerTimeout,
)
from ..hidden.framework import Fail
from ..results import TestResult


def _student_message(grade_id: str, exc: StudentError) -> str:
    if isinstance(exc, NotDefined):
        return exc.message
    if exc.type == "NotImplementedError":
        return f"{grade_id} is not implemented yet (it raised NotImplementedError)"
    return f"{grade_id} raised {exc.type}: {exc.message}"[:600]


@dataclass
class TestRunner:
    """Runs test bodies, turning every outcome into a ``TestResult``.

    After a student's function hangs, kills the worker or runs out of its CPU budget, its
    remaining tests are not run again (each would cost as much again and a restart); they
    get the same message.
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
            if isinstance(exc, NotDefined) and target in self.cell_errors:
                output += f" (its cell raised {self.cell_errors[target]})"
        except SubmissionTimeout as exc:
            score, output = 0.0, f"not run: {exc}"
        except OverBudget as exc:   # the test's own words: which budget, what to check
            said = str(exc)
            score, output = 0.0, said if said.startswith(target) else f"{target}: {said}"
            self.faulted[target] = output
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
