"""The protocol between the trusted side and a worker, attacked from inside the worker.

A worker that stalls mid-frame, answers out of turn, or writes forged frames (student code
can reach the worker's own pipe ends by walking the stack) is timed out or refused as a
protocol violation; nothing it sends reaches a trusted object the call did not ask for.
(The OS sandbox around the worker is in test_sandbox_os.py.)
"""

from __future__ import annotations

import pytest
import torch

from grader.sandbox.client import Worker, WorkerTimeout
from grader.sandbox.limits import Limits


def test_a_worker_that_stops_reading_or_stalls_mid_frame_times_out():
    import time

    # The next request is larger than the pipe can hold and nobody reads it; or the worker
    # reads a little of it and then stops (a blocking write would then wait forever).
    for patch in ("wire.read_frame = lambda *a, **k: time.sleep(3600)",
                  "_rx = wire._read_exact\n"
                  "def _stop(fd, *a, **k):\n"
                  "    _rx(fd, 8); _rx(fd, 16384); time.sleep(3600)\n"
                  "wire.read_frame = _stop"):
        with Worker(Limits(call_timeout_s=3)) as w:
            w.exec_cells(["import threading, time, wire\n" + patch])
            start = time.monotonic()
            with pytest.raises(WorkerTimeout):
                w.put(torch.zeros(20_000_000))
            assert time.monotonic() - start < 10
    # A reply that announces a large blob and then stops in the middle.
    with Worker(Limits(call_timeout_s=3)) as w:
        w.exec_cells(["import os, sys, time, wire\n"
                      "def stall():\n"
                      "    os.write(int(sys.argv[2]), wire.HEADER.pack(2, 10**6) + b'{}' + b'x' * 10)\n"
                      "    time.sleep(3600)"])
        start = time.monotonic()
        with pytest.raises(WorkerTimeout):
            w.call({"name": "stall"})
        assert time.monotonic() - start < 10


def test_a_reply_out_of_turn_is_a_protocol_violation():
    from grader.sandbox.client import ProtocolViolation

    # A thread left behind by one call answers the next request with a forged reply.
    with Worker(Limits(call_timeout_s=10)) as w:
        w.exec_cells(["import os, sys, threading, time, wire\n"
                      "def plant():\n"
                      "    def late():\n"
                      "        time.sleep(1)\n"
                      "        os.write(int(sys.argv[2]), wire.pack({'kind': 'ok', 'value': 42, 'rid': 1}))\n"
                      "    threading.Thread(target=late).start()\n"
                      "    return 0\n"
                      "def slow():\n"
                      "    time.sleep(3)\n"
                      "    return 7"])
        assert w.call({"name": "plant"}) == 0
        with pytest.raises(ProtocolViolation, match="out of turn"):
            w.call({"name": "slow"})


# ------------------------------------------------------------------ forged frames (red team)

# Student code can find the worker's own object by walking the stack and write any frame.
FORGE = r'''
import sys, wire
def _worker_self():
    f = sys._getframe()
    while f is not None:
        s = f.f_locals.get("self")
        if s is not None and hasattr(s, "rfd") and hasattr(s, "handles"):
            return s
        f = f.f_back
def forge(value, **header):
    s = _worker_self()
    wire.write_frame(s.wfd, wire.pack({"kind": "ok", "rid": s.rid, "value": value, **header}))
'''


@pytest.mark.parametrize("value", [
    {"$npscalar": "V2147483647", "value": 1},   # a NumPy void would reserve 2 GiB here
    {"$npscalar": "no-such-dtype", "value": 1},
    {"$dict": [[{"$tuple": [[1]]}, 1]]},         # an unhashable key
    {"$dtype": "_inductor"},                    # a name looked up on torch would import it
    [42, "x"],                                  # not a list of cell outcomes
])
def test_forged_replies_are_protocol_violations(value):
    from grader.sandbox.client import ProtocolViolation

    with Worker(Limits(call_timeout_s=10)) as w:
        w.exec_cells([FORGE])
        with pytest.raises(ProtocolViolation):
            w.exec_cells([f"forge({value!r})"])
        assert not w.alive


def test_a_forged_cell_outcome_is_capped_on_the_trusted_side():
    with Worker(Limits(call_timeout_s=10, cell_output_chars=1000)) as w:
        w.exec_cells([FORGE])
        runs = w.exec_cells(["forge(wire.Encoder().encode([{'ok': True, 'stdout': 'x' * 5_000_000, "
                             "'stderr': 7, 'error': None}]))"])
        assert len(runs[0]["stdout"]) < 2000 and runs[0]["stderr"] == ""


def test_a_callback_the_call_never_passed_cannot_rewrite_its_arguments():
    from grader.sandbox.client import ProtocolViolation

    with Worker(Limits(call_timeout_s=10)) as w:
        w.exec_cells([FORGE + "\nimport torch\n"
                      "def zap(t):\n"
                      "    s, enc = _worker_self(), wire.Encoder()\n"
                      "    frame = {'kind': 'callback', 'id': 999, 'rid': s.rid, 'args': [],\n"
                      "             'kwargs': {'$dict': []}, 'sync': enc.encode({'a0': torch.zeros_like(t)})}\n"
                      "    wire.write_frame(s.wfd, wire.pack(frame, enc.tensors))\n"
                      "    wire.read_frame(s.rfd)\n"
                      "    return 0"])
        t = torch.arange(6.0)
        with pytest.raises(ProtocolViolation, match="never given"):
            w.call({"name": "zap"}, (t,))
        assert torch.equal(t, torch.arange(6.0))
