"""The trusted side of the boundary: start a worker, send requests, decode answers.

Everything that comes back is decoded by ``wire.Decoder`` into plain tensors, arrays and
Python data, so a student's object can never run code in this process. Objects that are
not data stay in the worker and are represented here by ``RemoteObject`` proxies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..faults import (
    NotDefined,
    OverBudget,
    ProtocolViolation,
    RuleBroken,
    StudentError,
    SubmissionTimeout,
    WorkerDied,
    WorkerFault,
    WorkerTimeout,
    student_error,
)
from . import fence, isolation, wire
from .calls import CallScope
from .cgroup import Freezer, MemoryCap
from .errors import death_message
from .isolation import SandboxUnavailable
from .launch import WORKER_FILES, launch
from .limits import Limits
from .output import OutputTail, cell_outcome
from .proxies import RemoteObject

__all__ = ["WORKER_FILES", "OverBudget", "ProtocolViolation", "RemoteObject", "RuleBroken",
           "SandboxUnavailable", "StudentError", "SubmissionTimeout", "Worker", "WorkerDied",
           "WorkerFault", "WorkerTimeout"]


class Worker:
    """One sandboxed worker process for one submission (never shared between students).

    With ``limits.sandbox`` (the default) the worker runs under bubblewrap
    (``isolation``); ``start`` raises ``SandboxUnavailable`` where that cannot work. Without
    it the worker is an ordinary process with rlimits and a private folder, and
    ``sandboxed`` says so.
    """

    def __init__(self, limits: Limits | None = None, python: str | None = None) -> None:
        self.limits = limits or Limits()
        self.python = python or sys.executable
        self.proc: subprocess.Popen | None = None
        self.tmp: str | None = None
        self.output: OutputTail | None = None
        self.scope = CallScope(self)   # the call in flight: its callbacks, writable tensors
        self._rid = 0           # the id of the request in flight; every reply must carry it
        self.hard_deadline: float | None = None  # time.monotonic() when the submission's time ends
        self.hold: fence.Hold | None = None   # strays, freezing between requests (fence)
        self.sandboxed = False
        self.memory_cap: MemoryCap | None = None
        self.freezer: Freezer | None = None   # holds the worker between requests (fence.Hold)
        self.host_uid: int | None = None      # root only: this worker's own host account
        self.starting = True    # until the first reply: a death then is the sandbox's fault
        self.tree: fence.Tree | None = None   # the worker's processes, seen from the host
        self.forked = False     # forked from the pre-imported parent (``prefork``)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="grader-worker-")
        started = launch(self.limits, self.python, Path(self.tmp))
        self.proc, self.output, self.memory_cap = started.proc, started.output, started.memory_cap
        self.freezer = started.freezer
        self.host_uid, self.sandboxed = started.host_uid, self.limits.sandbox
        self.tree, self.forked = started.tree, started.forked
        self.hold = fence.Hold(self.tree, self.sandboxed, self.freezer)
        self._w, self._r = started.to_worker, started.from_worker

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker's process group; bubblewrap's --die-with-parent and the PID
        namespace take every process the student started down with it, and whatever of the
        sandbox would not die that way is killed after it (``fence.Hold.end``)."""
        survivors = self.hold.survivors() if self.hold is not None else []
        alive = self.proc is not None and self.proc.poll() is None
        if alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        fence.Hold.end(survivors)
        if self.freezer is not None:   # a frozen process dies of its SIGKILL once thawed
            self.freezer.thaw()
        if alive:
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        if self.hold is not None:
            self.hold.close()
        for fd in (getattr(self, "_w", None), getattr(self, "_r", None)):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._w = self._r = None
        if self.output is not None:
            self.output.join()
        if self.freezer is not None:
            self.freezer.remove()
        if self.memory_cap is not None:
            self.memory_cap.remove()
        if self.host_uid is not None:
            isolation.HostUids.release(self.host_uid)
            self.host_uid = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_tail(self, n: int = 2000) -> str:
        return self.output.text()[-n:] if self.output is not None else ""

    # ------------------------------------------------------------------ requests
    def request(self, header: dict, tensors: dict | None = None, timeout: float | None = None,
                cpu_budget: float | None = None) -> tuple[dict, Any]:
        """Send one request and wait for its answer, serving callbacks meanwhile. Past
        ``cpu_budget`` CPU seconds (``fence.cpu_seconds``, load-independent, unlike the
        wall-clock ``timeout``) the worker is killed and ``OverBudget`` raised."""
        if not self.alive:
            raise WorkerDied(self._death_message())
        timeout = self.limits.call_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if self.hard_deadline is not None and self.hard_deadline < deadline:
            if self.hard_deadline <= time.monotonic():
                raise self._out_of_time()
            deadline, timeout = self.hard_deadline, -1.0  # -1: the submission's limit binds
        self._rid += 1
        header = {**header, "rid": self._rid}
        if self.hold is not None:
            self.hold.release()
        cpu_until = None if cpu_budget is None else self.cpu_seconds() + cpu_budget
        self._write(wire.pack(header, tensors), deadline, timeout)
        while True:
            if cpu_until is not None and not fence.await_frame(self._r, self.tree, cpu_until,
                                                                  deadline):
                self.kill()
                raise OverBudget(f"used more than its budget of {cpu_budget:.1f} CPU seconds")
            reply, blob = self._read(deadline, timeout)
            if reply.get("rid") != self._rid:  # a stale frame, e.g. from a thread of an earlier call
                self.kill()
                raise ProtocolViolation(f"the worker answered out of turn (request {self._rid}, "
                                        f"reply to {reply.get('rid')!r}); something the student "
                                        "started earlier was still running")
            kind = reply.get("kind")
            try:
                if kind == "callback":
                    answer, tensors = self.scope.answer_callback(reply, self.decoder(blob))
                    self._write(wire.pack({**answer, "rid": self._rid}, tensors), deadline, timeout)
                    continue
                self.starting = False
                dec = self.decoder(blob)
                value = dec.decode(reply.get("value"))
                if "sync" in reply:
                    reply["_sync"] = dec.decode(reply["sync"])
            except ProtocolViolation:
                self.kill()
                raise
            except (wire.WireError, TypeError, ValueError, KeyError, OverflowError) as exc:
                self.kill()
                raise ProtocolViolation(f"the worker sent malformed data ({str(exc)[:200]})") from None
            self._fence()
            return reply, value

    def _fence(self) -> None:
        """Between requests nothing of the student's runs (``fence.Hold``)."""
        if self.hold is None:
            return
        try:
            self.hold.settle()
        except WorkerFault:
            self.kill()
            raise

    @property
    def strays_ended(self) -> int:
        """Processes student code left behind after its requests, ended by the fence."""
        return self.hold.strays_ended if self.hold is not None else 0

    def cpu_seconds(self) -> float:
        """CPU time the worker (every thread and process of it) has used, read from the host."""
        return fence.cpu_seconds(self.tree) if self.tree is not None else 0.0

    def _out_of_time(self) -> SubmissionTimeout:
        return SubmissionTimeout(f"the submission used up its {self.limits.submission_timeout_s:g} s "
                                 "of grading time; what was left was not run")

    def _write(self, data: bytes, deadline: float, timeout: float) -> None:
        try:
            wire.write_frame(self._w, data, deadline)
        except wire.WireTimeout:
            self.kill()
            if timeout < 0:
                raise self._out_of_time() from None
            raise WorkerTimeout(f"did not take its input within {timeout:g} s") from None
        except OSError:
            raise WorkerDied(self._death_message()) from None

    def _read(self, deadline: float, timeout: float) -> tuple[dict, dict]:
        try:
            return wire.read_frame(self._r, self.limits.max_result_bytes, deadline)
        except wire.WireTimeout:
            self.kill()
            if timeout < 0:
                raise self._out_of_time() from None
            raise WorkerTimeout(f"did not finish within {timeout:g} s") from None
        except EOFError:
            raise WorkerDied(self._death_message()) from None
        except wire.WireError as exc:
            self.kill()
            raise ProtocolViolation(f"the worker sent malformed data ({exc})") from None

    def _death_message(self) -> str:
        code = None
        if self.proc is not None:
            with contextlib.suppress(Exception):
                code = self.proc.wait(timeout=5)
            if code is None:      # its pipes closed, its sandbox still up (a stopped holder)
                self.kill()
        oom = self.memory_cap is not None and self.memory_cap.oom_killed()
        return death_message(code, starting=self.starting, log=self.log_tail(), oom=oom,
                             memory_bytes=self.limits.host_memory_bytes)

    # ------------------------------------------------------------------ values
    def decoder(self, blob: dict) -> wire.Decoder:
        return wire.Decoder(blob, on_handle=lambda hid, tname: RemoteObject(self, hid, tname))

    def encode(self, values: Any) -> tuple[Any, dict]:
        return self.scope.encode(values)

    # ------------------------------------------------------------------ operations
    def ping(self, timeout: float | None = None) -> dict:
        timeout = self.limits.startup_timeout_s if timeout is None else timeout
        return self.request({"op": "ping"}, timeout=timeout)[1]

    def exec_cells(self, sources: list[str], timeout: float | None = None) -> list[dict]:
        """Run cells; each outcome is checked and capped here, whatever the worker claims."""
        timeout = self.limits.notebook_timeout_s if timeout is None else timeout
        runs = self.request({"op": "exec", "cells": [{"source": s} for s in sources]},
                            timeout=timeout)[1]
        if not isinstance(runs, list) or len(runs) != len(sources) \
                or not all(isinstance(r, dict) for r in runs):
            self.kill()
            raise ProtocolViolation("the worker's answer to running the cells is malformed")
        return [cell_outcome(r, self.limits.cell_output_chars) for r in runs]

    def call(self, target: dict, args: tuple = (), kwargs: dict | None = None, *,
             seed: int | None = None, grad: bool | None = None, as_handle: bool = False,
             sync: bool = False, timeout: float | None = None, cpu_budget: float | None = None,
             rules: tuple[str, ...] = ()) -> Any:
        """Call a function in the worker; raise StudentError if the student's code raised,
        RuleBroken if it used what ``rules`` forbid (``traps``) while it ran."""
        self.scope.begin(args, dict(kwargs or {}), sync)   # callables live for this call only
        enc_args, tensors = self.encode([list(args), dict(kwargs or {})])
        header = {"op": "call", "target": target, "args": enc_args[0], "kwargs": enc_args[1],
                  "seed": seed, "grad": grad, "as_handle": as_handle, "sync": sync,
                  "rules": list(rules)}
        try:
            reply, value = self.request(header, tensors, timeout=timeout, cpu_budget=cpu_budget)
            if sync:   # only a call that asked for it has its tensor arguments written
                self.scope.sync_back(reply.get("_sync"))
        except ProtocolViolation:
            self.kill()
            raise
        finally:
            self.scope.end()
        broken = reply.get("broken")
        if rules and isinstance(broken, list) and broken:
            raise RuleBroken("while it ran it used " + "; ".join(str(b)[:200] for b in broken[:4]))
        if reply.get("kind") == "missing":   # the notebook has no such name
            raise NotDefined(str(reply.get("name", target.get("name", "?")))[:200])
        if reply.get("kind") == "raised":
            err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise student_error(str(err.get("type", "Exception")), str(err.get("message", "")),
                                str(err.get("traceback", "")))
        if reply.get("kind") == "error":
            err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise student_error(str(err.get("type", "Error")), str(err.get("message", "")))
        return value

    def put(self, value: Any) -> RemoteObject:
        enc, tensors = self.encode(value)
        return self.request({"op": "put", "value": enc}, tensors)[1]

    def describe(self, obj: RemoteObject) -> dict:
        return self.request({"op": "describe", "handle": obj._hid})[1]

    def builtin(self, name: str, *args: Any, **options: Any) -> Any:
        return self.call({"builtin": name}, args, **options)


