"""What can go wrong at the boundary, as exception types the trusted side can catch.

``WorkerFault`` and its subclasses: the worker could not answer (the message is meant for
the student). ``StudentError``: the student's own code raised inside the worker; for
built-in exception types the instance is also of that type.
"""

from __future__ import annotations

import builtins


class WorkerFault(Exception):
    """The worker could not answer: the message is meant for the student."""


class WorkerTimeout(WorkerFault):
    pass


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


def death_message(code: int | None, *, starting: bool, log: str, oom: bool,
                  memory_bytes: int | None) -> str:
    """Why the worker is gone, in words for the student's feedback."""
    import signal

    if code is None:
        return "the worker stopped answering"
    if starting and code == 1 and "bwrap:" in log:
        return f"the sandbox could not start the worker ({log[-300:].strip()})"
    if oom:
        return f"the worker used more than its {(memory_bytes or 0) / 2**30:g} GiB of memory and was stopped"
    if code < 0:
        sig = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        hint = " (often: out of memory or a resource limit)" if sig in ("SIGKILL", "SIGXCPU", "SIGSEGV") else ""
        return f"the worker process was killed by {sig}{hint}"
    return f"the worker process exited with status {code} (for example through os._exit or sys.exit)"
