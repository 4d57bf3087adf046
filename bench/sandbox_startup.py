"""What the worker sandbox costs per submission: start-up with and without bubblewrap.

Starts ``--repeats`` workers each way, alternating so that load and caches hit both
sides alike, and times (a) until the worker answers its first ping (interpreter, the
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

from grader.sandbox import isolation
from grader.sandbox.client import Worker
from grader.sandbox.limits import Limits


def one_start(sandbox: bool) -> dict:
    t0 = time.perf_counter()
    with Worker(Limits(sandbox=sandbox)) as w:
        w.ping()
        ready = time.perf_counter() - t0
        w.exec_cells(["import torch\ndef f(x):\n    return (x * 2).sum()"])
        assert w.call({"name": "f"}, (w.call({"name": "torch", "attr": "ones"}, (3,)),)) == 6
        first_call = time.perf_counter() - t0 - ready
    total = time.perf_counter() - t0
    return {"sandbox": sandbox, "ready_s": round(ready, 3), "first_call_s": round(first_call, 3),
            "total_s": round(total, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=8)
    args = ap.parse_args()
    if not isolation.available():
        print(json.dumps({"error": isolation.probe()}))
        return 1
    rows: dict[bool, list[dict]] = {True: [], False: []}
    one_start(True)  # warm the page cache for both sides
    for _ in range(args.repeats):
        for sandbox in (False, True):
            row = one_start(sandbox)
            rows[sandbox].append(row)
            print(json.dumps(row), flush=True)
    med = {s: statistics.median(r["ready_s"] for r in rows[s]) for s in rows}
    tot = {s: statistics.median(r["total_s"] for r in rows[s]) for s in rows}
    print(json.dumps({
        "summary": "worker start-up", "repeats": args.repeats,
        "median_ready_s": {"bwrap": med[True], "plain": med[False]},
        "median_total_s": {"bwrap": tot[True], "plain": tot[False]},
        "ready_ratio_bwrap_over_plain": round(med[True] / med[False], 3),
        "added_per_submission_s": round(tot[True] - tot[False], 3),
        "sandbox": isolation.describe(Limits(), sys.executable),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
