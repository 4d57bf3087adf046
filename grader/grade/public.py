"""The namespace a public test cell runs in on the trusted side.

Public test cells are the student's own checks; the grader runs them here, against
proxies of the student's functions in the worker. Their clock must be the worker's:
``time.process_time()`` in a cell means "CPU seconds my code used", and in the grader the
code runs in the worker, so ``time`` as the cell imports it reads the worker's CPU time
from the host (``Session.cpu_seconds``); everything else of ``time`` is the real module.
"""

from __future__ import annotations

import builtins
import time
import types
from typing import Any


def worker_time(session) -> types.ModuleType:
    """A ``time`` module whose ``process_time`` is the worker's CPU time."""
    shim = types.ModuleType("time", time.__doc__)
    shim.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
    shim.process_time = session.cpu_seconds
    shim.process_time_ns = lambda: int(session.cpu_seconds() * 1e9)
    return shim


def public_globals(session, functions: dict[str, Any], print_fn) -> dict[str, Any]:
    """Globals for ``exec`` of one public test cell: the student's functions, a quiet
    print, and imports as usual except that ``time`` is the worker's clock."""
    shim = worker_time(session)

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "time" and level == 0:
            return shim
        return builtins.__import__(name, globals, locals, fromlist, level)

    scope = {**vars(builtins), "__import__": _import, "print": print_fn}
    return {"__name__": "public_test", "__builtins__": scope, "print": print_fn, **functions}
