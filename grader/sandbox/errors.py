"""Why a worker is gone, in words for the student's feedback.

(The exception types the boundary raises live in ``grader.faults``, below every layer that
catches them.)
"""

from __future__ import annotations


def death_message(code: int | None, *, starting: bool, log: str, oom: bool,
                  memory_bytes: int | None) -> str:
    """Why the worker is gone, in words for the student's feedback."""
    import signal

    if code is None:
        return "the worker stopped answering"
    if starting and code == 1 and "bwrap:" in log:
        return f"the sandbox could not start the worker ({log[-300:].strip()})"
    if code is not None and 128 < code < 128 + 65 and code - 128 in signal.Signals._value2member_map_:
        code = 128 - code      # bubblewrap exits with 128 + the signal that ended the worker
    if oom:
        return f"the worker used more than its {(memory_bytes or 0) / 2**30:g} GiB of memory and was stopped"
    if code < 0:
        sig = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        hint = " (often: out of memory or a resource limit)" if sig in ("SIGKILL", "SIGXCPU", "SIGSEGV") else ""
        return f"the worker process was killed by {sig}{hint}"
    return f"the worker process exited with status {code} (for example through os._exit or sys.exit)"
