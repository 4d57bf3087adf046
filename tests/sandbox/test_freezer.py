"""The freezer cgroup that holds a worker between requests (``cgroup.Freezer``, ``fence.Hold``).

Red team N2: a SIGSTOP is undone by a SIGCONT the worker arranged to receive (one-shot POSIX
timers armed during a call); a frozen cgroup only by the host.
"""

from __future__ import annotations

import time

import pytest

from grader.sandbox import isolation
from grader.sandbox.client import Worker
from grader.sandbox.limits import Limits

pytestmark = pytest.mark.skipif(not isolation.available(), reason=f"no sandbox: {isolation.probe()}")

SIGCONT_TIMERS = r"""
import ctypes, signal, threading
libc = ctypes.CDLL(None, use_errno=True)
class sigevent(ctypes.Structure):
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("pad", ctypes.c_byte * 48)]
class itimerspec(ctypes.Structure):
    _fields_ = [("i_s", ctypes.c_long), ("i_ns", ctypes.c_long), ("v_s", ctypes.c_long),
                ("v_ns", ctypes.c_long)]
signal.signal(signal.SIGCONT, lambda *a: None)
done = [0]
def arm():
    # One-shot timers every 20 ms for 6 s, each sending SIGCONT to the worker: a SIGSTOP is
    # undone by the next one to fire (a periodic timer would not do: a stop drops its signal).
    event = sigevent(None, signal.SIGCONT, 0)
    for k in range(1, 301):
        tid = ctypes.c_void_p()
        assert libc.timer_create(1, ctypes.byref(event), ctypes.byref(tid)) == 0
        at = k * 20
        assert libc.timer_settime(tid, 0, ctypes.byref(itimerspec(0, 0, at // 1000,
                                  (at % 1000) * 1_000_000)), None) == 0
    def work():
        while True:
            x = 0
            for i in range(20000):
                x += i
            done[0] += 1
    threading.Thread(target=work, daemon=True).start()
    return done[0]
def progress():
    return done[0]
"""


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "scratch"])
def test_sigcont_timers_do_not_undo_the_freeze_between_calls(warm, forked):
    """Red team (N2): timers armed during a call send SIGCONT to the worker after the host
    stopped it; without the freezer cgroup a thread then works between requests, outside
    every call's CPU budget. Frozen by the kernel, it does nothing until the next call."""
    with Worker(Limits(call_timeout_s=30, prefork=forked)) as w:
        if w.freezer is None:
            pytest.skip("no freezer cgroup here (not root, or no freezer controller)")
        assert w.forked == forked and w.exec_cells([SIGCONT_TIMERS])[0]["ok"]
        w.call({"name": "arm"})
        first = w.call({"name": "progress"})
        time.sleep(1.5)
        assert w.freezer.state() == "FROZEN"
        frozen = w.call({"name": "progress"}) - first   # a few ms of the calls' own time
        # The same, held by SIGSTOP alone: the timers undo it and the thread works on.
        w.hold.freezer = None
        w.freezer.thaw()
        first = w.call({"name": "progress"})
        time.sleep(1.5)
        stopped_only = w.call({"name": "progress"}) - first
        assert stopped_only > 100, f"the attack did not run: {stopped_only} units"
        assert frozen < stopped_only / 10, (frozen, stopped_only)
