"""Issue 13: the GPU check's class-sized batch, rehearsed on the CPU at a tiny size.

``bench/gpu_check.py`` grades 64 submissions of all five sets on the runner the day one is
lent; here four submissions of two sets go through the same ``batch_check`` on the CPU, so
that the row it prints (throughput per hour, the ratio to serial grading, the scores) is
known to be right before device time is spent on it.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import sys

import pytest
from conftest import ROOT

from grader import config


def _gpu_check():
    sys.path.insert(0, str(ROOT / "bench"))       # it imports calibrate_threshold beside it
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_batch_mix_covers_every_set_and_kind():
    gpu_check = _gpu_check()
    assert doctest.testmod(gpu_check).failed == 0
    mix = gpu_check.batch_mix(64, ["ps1", "ps2", "ps3", "ps4", "ps5"])
    assert len(mix) == 64 and {ps for ps, _ in mix} == {"ps1", "ps2", "ps3", "ps4", "ps5"}
    kinds = [k for _, k in mix]
    assert kinds.count("reference") >= 32 and kinds.count("partial") >= 15 and kinds.count("blank") >= 15
    assert all(sum(1 for p, _ in mix if p == ps) >= 12 for ps in ("ps1", "ps5"))


@pytest.mark.slow
def test_a_tiny_batch_reports_throughput_and_the_ratio_to_serial(tmp_path):
    gpu_check = _gpu_check()
    out = tmp_path / "rows.jsonl"
    report = gpu_check.Report(out)
    row = gpu_check.batch_check(report, config.resolve_profile("cpu"), [], 4, 2, tmp_path,
                                sets=["ps1_tensors", "ps2_gradients"])
    assert row["submissions"] == 4 and row["jobs"] == 2
    assert row["sets"] == ["ps1_tensors", "ps2_gradients"]
    assert row["per_hour"] > 0 and row["serial_per_hour"] > 0
    assert row["speedup_vs_serial"] == pytest.approx(row["serial_estimate_seconds"] / row["wall_seconds"], rel=0.02)
    assert row["references_full_marks"] is True
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    serial = [r for r in rows if r["section"] == "batch_serial"]
    assert {(r["set"], r["kind"]) for r in serial} == {(ps, k) for ps in ("ps1_tensors", "ps2_gradients")
                                                       for k in ("reference", "partial")}
    assert all(r["score"] < r["max_score"] for r in serial if r["kind"] == "partial")
