"""Issue 10: the trusted side believes nothing the worker says beyond its value.

Calls are fenced (a thread a call starts does no work after it returns), budgets are
counted in CPU time read from the host, and only what the trusted side asked for flows
back into its objects. (Facts about models and the rules on *how* are in
test_trusted_facts.py and test_rules.py.)
"""

from __future__ import annotations

import time

import pytest
import torch

from grader.sandbox import isolation
from grader.sandbox.client import Worker
from grader.sandbox.limits import Limits

SANDBOX = [False, pytest.param(True, marks=pytest.mark.skipif(
    not isolation.available(), reason=f"no sandbox: {isolation.probe()}"))]

SPINNER = """
import threading, time
spun = [0]
def spin():
    while True:
        spun[0] += 1
def start():
    threading.Thread(target=spin, daemon=True).start()
    time.sleep(0.2)
    return spun[0]
def count():
    return spun[0]
"""


@pytest.mark.parametrize("sandbox", SANDBOX)
def test_a_thread_a_call_started_does_no_work_between_calls(sandbox):
    with Worker(Limits(call_timeout_s=20, sandbox=sandbox)) as w:
        assert w.exec_cells([SPINNER])[0]["ok"]
        assert w.call({"name": "start"}) > 0
        before = w.cpu_seconds()
        time.sleep(1.0)                      # the worker is frozen: the spinning thread too
        assert w.cpu_seconds() - before < 0.1
        first = w.call({"name": "count"})
        time.sleep(0.5)
        assert w.call({"name": "count"}) - first < first  # it ran only while a call was served


@pytest.mark.parametrize("sandbox", SANDBOX)
def test_cpu_seconds_count_every_thread_and_every_process_of_the_sandbox(sandbox):
    burn = ("import threading, time, subprocess, sys\n"
            "def busy(seconds):\n"
            "    end = time.thread_time() + seconds\n"
            "    while time.thread_time() < end:\n"
            "        pass\n"
            "def work():\n"
            "    ts = [threading.Thread(target=busy, args=(0.4,)) for _ in range(2)]\n"
            "    [t.start() for t in ts]; [t.join() for t in ts]\n"
            "    subprocess.run([sys.executable, '-c', 'import time\\nt=time.process_time()\\n"
            "while time.process_time() - t < 0.4: pass'])\n")
    with Worker(Limits(call_timeout_s=30, sandbox=sandbox)) as w:
        assert w.exec_cells([burn])[0]["ok"]
        before = w.cpu_seconds()
        w.call({"name": "work"})
        used = w.cpu_seconds() - before
    # Two threads of 0.4 s and a child process of 0.4 s (interpreter start-up on top).
    assert 1.1 < used < 3.0, used


def test_the_cpu_clock_does_not_move_when_a_neighbour_is_busy():
    """The same work costs the same CPU time with two busy processes beside it."""
    import subprocess
    import sys

    work = ("import torch\n"
            "def work():\n"
            "    a = torch.randn(300, 300)\n"
            "    for _ in range(300):\n"
            "        a = torch.tanh(a @ a * 0.01)\n"
            "    return float(a.sum())\n")

    def measure() -> float:
        with Worker(Limits(call_timeout_s=60, sandbox=False, threads=1)) as w:
            w.exec_cells([work])
            w.call({"name": "work"})        # warm-up
            before = w.cpu_seconds()
            w.call({"name": "work"})
            return w.cpu_seconds() - before

    alone = measure()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        busy = measure()
    finally:
        for h in hogs:
            h.kill()
    assert busy < alone * 1.5 + 0.05, (alone, busy)


BUDGETED = ("import time, threading\n"
            "def spin(seconds):\n"
            "    end = time.thread_time() + seconds\n"
            "    while time.thread_time() < end:\n"
            "        pass\n"
            "    return 'done'\n"
            "def spin_in_threads(seconds):\n"
            "    ts = [threading.Thread(target=spin, args=(seconds,)) for _ in range(2)]\n"
            "    [t.start() for t in ts]; [t.join() for t in ts]\n"
            "    return 'done'\n"
            "def nap(seconds):\n"
            "    time.sleep(seconds)\n"
            "    return 'rested'\n")


@pytest.mark.parametrize("sandbox", SANDBOX)
def test_a_call_over_its_cpu_budget_is_stopped_and_the_next_call_gets_a_fresh_worker(sandbox):
    """Issue 13: a call that keeps computing is stopped at its CPU budget, long before its
    wall-clock timeout; threads count (the whole sandbox's clock); sleeping costs nothing."""
    from grader.faults import OverBudget, WorkerTimeout

    with Worker(Limits(call_timeout_s=60, sandbox=sandbox)) as w:
        w.exec_cells([BUDGETED])
        assert w.call({"name": "spin"}, (0.2,), cpu_budget=2.0) == "done"
        assert w.call({"name": "nap"}, (1.5,), cpu_budget=0.5) == "rested"   # wall time is free
        start = time.monotonic()
        with pytest.raises(OverBudget, match=r"budget of 1\.0 CPU seconds") as info:
            w.call({"name": "spin"}, (30.0,), cpu_budget=1.0)
        assert isinstance(info.value, WorkerTimeout)   # faulted like a timeout: not rerun
        assert time.monotonic() - start < 20, "stopped at the budget, not at the 60 s timeout"
        assert not w.alive
    with Worker(Limits(call_timeout_s=60, sandbox=sandbox)) as w:
        w.exec_cells([BUDGETED])
        with pytest.raises(OverBudget):
            w.call({"name": "spin_in_threads"}, (0.8,), cpu_budget=1.0)   # 1.6 s in all


def test_trusted_tensors_change_only_when_the_call_asked_for_it():
    """A callback gives the worker a way back in; without sync=True nothing flows back."""
    mutate = ("def mutate(x, cb):\n"
              "    x.fill_(7.0)\n"
              "    cb()\n"
              "    return 1\n")
    seen = []
    with Worker(Limits(call_timeout_s=20, sandbox=False)) as w:
        w.exec_cells([mutate])
        x = torch.zeros(3)
        w.call({"name": "mutate"}, (x, lambda: seen.append(1)))
        assert seen == [1] and torch.equal(x, torch.zeros(3))
        w.call({"name": "mutate"}, (x, lambda: seen.append(2)), sync=True)
        assert torch.equal(x, torch.full((3,), 7.0))


def test_a_public_test_reads_the_workers_cpu_clock():
    """`time.process_time()` in a public test cell means the student's code, in the worker."""
    from grader.grade.public import public_globals
    from grader.grade.session import Session, StudentNamespace

    busy = ("import time\ndef busy(seconds):\n    end = time.process_time() + seconds\n"
            "    while time.process_time() < end:\n        pass\n")
    session = Session([busy], Limits(call_timeout_s=20, sandbox=False))
    try:
        session.start()
        scope = public_globals(session, StudentNamespace(session, ["busy"]).as_dict(),
                               lambda *a, **k: None)
        exec("import time\nstarted = time.process_time()\nbusy(0.5)\n"
             "used = time.process_time() - started\nwall = time.perf_counter()", scope)
        assert 0.45 < scope["used"] < 1.5, scope["used"]
        assert isinstance(scope["wall"], float)   # the rest of `time` is the real module
    finally:
        session.close()
