"""What the worker sandbox costs per submission: start-up with and without bubblewrap,
and with a worker forked from the pre-imported parent (``sandbox.prefork``, the default).

Starts ``--repeats`` workers each way (``plain``: no sandbox; ``bwrap``: bubblewrap, the
worker started from scratch; ``forked``: bubblewrap, the worker forked), alternating so
that load and caches hit every side alike, and times (a) until the worker answers its first ping (interpreter, the
worker's imports: torch, IPython) and (b) one small cell and one call after that. Prints
one JSON line per start and a summary with the medians and their ratio, measured in this
one run. Absolute seconds are this machine's; compare ratios.

    python bench/sandbox_startup.py [--repeats 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from grader.sandbox import isolation, prefork
from grader.sandbox.client import Worker
from grader.sandbox.limits import Limits

MODES = {"plain": Limits(sandbox=False), "bwrap": Limits(prefork=False), "forked": Limits()}


def one_start(mode: str) -> dict:
    t0 = time.perf_counter()
    with Worker(MODES[mode]) as w:
        w.ping()
        ready = time.perf_counter() - t0
        w.exec_cells(["import torch\ndef f(x):\n    return (x * 2).sum()"])
        assert w.call({"name": "f"}, (w.call({"name": "torch", "attr": "ones"}, (3,)),)) == 6
        first_call = time.perf_counter() - t0 - ready
    total = time.perf_counter() - t0
    assert w.forked == (mode == "forked"), f"{mode}: forked={w.forked}"
    return {"mode": mode, "ready_s": round(ready, 3), "first_call_s": round(first_call, 3),
            "total_s": round(total, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=8)
    args = ap.parse_args()
    if not isolation.available():
        print(json.dumps({"error": isolation.probe()}))
        return 1
    prefork.WAIT = True              # every "forked" start is forked (the parent is waited for)
    rows: dict[str, list[dict]] = {m: [] for m in MODES}
    for mode in MODES:               # warm the page cache and the parent
        one_start(mode)
    for _ in range(args.repeats):
        for mode in MODES:
            row = one_start(mode)
            rows[mode].append(row)
            print(json.dumps(row), flush=True)
    med = {m: statistics.median(r["ready_s"] for r in rows[m]) for m in rows}
    tot = {m: statistics.median(r["total_s"] for r in rows[m]) for m in rows}
    print(json.dumps({
        "summary": "worker start-up", "repeats": args.repeats,
        "median_ready_s": med, "median_total_s": tot,
        "ready_ratio_bwrap_over_plain": round(med["bwrap"] / med["plain"], 3),
        "ready_ratio_bwrap_over_forked": round(med["bwrap"] / med["forked"], 2),
        "added_per_submission_s": round(tot["bwrap"] - tot["plain"], 3),
        "saved_per_submission_by_forking_s": round(tot["bwrap"] - tot["forked"], 3),
        "sandbox": isolation.describe(Limits(), sys.executable),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
