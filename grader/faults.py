"""What can go wrong with a student's code, as exception types every layer can catch.

The sandbox raises them, the hidden tests catch some of them (a test that tolerates the
student's own exceptions, one that reads a timeout as "too slow"), and the grading layer
turns every one into a message on the test it touched. They live below all of those, so
that the hidden tests never import the sandbox to name them.

``WorkerFault`` and its subclasses: the worker could not answer (the message is meant for
the student). ``StudentError``: the student's own code raised inside the worker; for
built-in exception types the instance is also of that type. ``NotDefined``: the notebook
has no such function or class.
"""

from __future__ import annotations

import builtins


class WorkerFault(Exception):
    """The worker could not answer: the message is meant for the student."""


class WorkerTimeout(WorkerFault):
    pass


class OverBudget(WorkerTimeout):
    """A call used more CPU time than its budget (``Worker.call(cpu_budget=...)``): the
    budget is the reference's cost of the same call times a factor (``Limits``), so a
    wrong answer that keeps iterating costs a bounded multiple of a right one."""


class SubmissionTimeout(WorkerTimeout):
    """The whole submission used up its grading time (``Limits.submission_timeout_s``)."""


class WorkerDied(WorkerFault):
    pass


class ProtocolViolation(WorkerFault):
    pass


class RuleBroken(Exception):
    """The student's function used, while it ran, what its rule forbids (a worker trap).

    Not a ``StudentError``: a hidden test that tolerates the student's exceptions must not
    tolerate this one; the runner scores the test zero with this message.
    """


class StudentError(Exception):
    """The student's own code raised inside the worker.

    For built-in exception types the instance is also of that type (``ValueError`` ...),
    so trusted code can write ``except ValueError`` as if the call were local.
    """

    def __init__(self, type: str, message: str = "", traceback: str = "") -> None:
        super().__init__(f"{type}: {message}" if message else type)
        self.type, self.message, self.traceback = type, message, traceback


_BUILTIN_ERRORS = {name: obj for name, obj in vars(builtins).items()
                   if isinstance(obj, type) and issubclass(obj, Exception)
                   and name not in ("StopIteration", "StopAsyncIteration", "GeneratorExit")}
_ERROR_CLASSES: dict[str, type] = {}


def student_error(type_name: str, message: str = "", tb: str = "") -> StudentError:
    base = _BUILTIN_ERRORS.get(type_name)
    if base is None:
        return StudentError(type_name, message, tb)
    cls = _ERROR_CLASSES.get(type_name)
    if cls is None:
        cls = _ERROR_CLASSES[type_name] = type(f"Student{type_name}", (StudentError, base), {})
    return cls(type_name, message, tb)


class NotDefined(StudentError):
    """The notebook defines no function or class of that name (a typed reply of the worker's,
    not a message to match)."""

    def __init__(self, name: str) -> None:
        super().__init__("NotDefined", f"{name} is not defined in the notebook")
        self.name = name
