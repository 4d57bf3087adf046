"""Gradescope's ``results.json`` for one graded notebook (SPEC section 3).

Every test shows its name, points and message; our own facts (grade_id, kind, timings,
the ps5 accuracy) ride along under ``extra_data``. Never the hidden tests' inputs or code:
those never reach a ``TestResult``.
"""

from __future__ import annotations

from typing import Any

from ..results import GradeResult

# Facts that vary from run to run like timings (left out with ``timings=False``).
MEASUREMENTS = {"worker_stats", "worker_ready_seconds", "notebook_seconds", "gpu_slot"}


def result_facts(result: GradeResult) -> dict[str, Any]:
    """The result's own facts under the names ``extra_data`` has always used."""
    facts: dict[str, Any] = {"sandboxed": result.sandboxed,
                             "host_memory_capped": result.host_memory_capped,
                             "worker_starts": result.worker.starts}
    if result.worker.ready_seconds is not None:
        facts["worker_ready_seconds"] = result.worker.ready_seconds
        facts["notebook_seconds"] = result.worker.notebook_seconds
    if result.worker.stats:
        facts["worker_stats"] = dict(result.worker.stats)
    if result.gpu_slot is not None:
        facts["gpu_slot"] = dict(result.gpu_slot)
    if result.student is not None:
        facts["student"] = result.student
        facts["submission_sha256"] = result.submission_sha256
    return facts


def gradescope_json(result: GradeResult, *, timings: bool = True) -> dict[str, Any]:
    """Gradescope's results.json, with our own facts under ``extra_data``."""
    tests = []
    for t in result.tests:
        row: dict[str, Any] = {
            "name": t.name,
            "score": t.score,
            "max_score": t.max_score,
            "output": t.output,
            "visibility": t.visibility,
            "extra_data": {"grade_id": t.grade_id, "kind": t.kind, **t.extra},
        }
        if timings:
            row["extra_data"]["seconds"] = round(t.seconds, 3)
        tests.append(row)
    out: dict[str, Any] = {
        "score": result.score,
        "max_score": result.max_score,
        "output": "\n".join(result.notes),
        "visibility": "visible",
        "tests": tests,
        "extra_data": {
            "assignment": result.assignment,
            "notebook": result.notebook,
            "profile": result.profile,
            "device": result.device,
            "cells_failed": [c.index for c in result.cells if not c.ok],
            **{k: v for k, v in result_facts(result).items() if timings or k not in MEASUREMENTS},
        },
    }
    if timings:
        out["execution_time"] = round(result.execution_time, 3)
    return out
