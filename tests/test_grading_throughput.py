"""Issue 13: the throughput benchmark runs end to end at a tiny size and reports real scores.

Two ps1 submissions (one reference, one with the demo's mistakes) through plain nbgrader
and through our grader at --jobs 1 and 2: the JSON has every field the issue asks for, and
the gradebook scores are the ones those submissions earn.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import subprocess
import sys

import pytest
from conftest import ROOT

SCRIPT = ROOT / "bench" / "grading_throughput.py"


def test_the_mix_is_fixed():
    spec = importlib.util.spec_from_file_location("grading_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert doctest.testmod(module).failed == 0
    kinds = [k for _, k in module.mix(20)]
    assert (kinds.count("reference"), kinds.count("blank"), kinds.count("partial")) == (10, 5, 5)


@pytest.mark.slow
def test_a_tiny_run_reports_throughput_time_and_the_expected_scores():
    out = subprocess.run([sys.executable, str(SCRIPT), "--sets", "ps1", "--submissions", "2",
                          "--jobs", "2"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["cpus"] >= 1 and len(report["loadavg_before"]) == 3
    [ps1] = report["sets"]
    assert ps1["set"] == "ps1_tensors" and ps1["mix"] == {"reference": 1, "blank": 0, "partial": 1}
    for side in ("plain", "ours_jobs1", "ours_jobsN"):
        rates = ps1[side]
        assert rates["seconds"] > 0 and rates["submissions_per_hour"] > 0
        assert rates["s_per_submission"] == pytest.approx(rates["seconds"] / 2, abs=0.01)
    for side in ("ours_jobs1", "ours_jobsN"):
        ours = ps1[side]
        assert set(ours["mean_s"]) == {"startup", "notebook", "tests", "grade_total"}
        assert all(v > 0 for v in ours["mean_s"].values())
        assert ours["peak_worker_rss_mb"]["max"] > 100       # a worker that imported torch
        top = ours["auto_max_score"]
        # the reference earns every automatic point in the gradebook, the demo's mistakes some
        assert ours["gradebook_scores"]["reference"] == [top] == ours["auto_scores"]["reference"]
        assert 0 < ours["gradebook_scores"]["partial"][0] < top
    # ours at both --jobs agree; plain nbgrader only has the public tests' points
    assert ps1["ours_jobs1"]["gradebook_scores"] == ps1["ours_jobsN"]["gradebook_scores"]
    plain = ps1["plain"]["gradebook_scores"]
    assert 0 < plain["partial"][0] < plain["reference"][0] < ps1["ours_jobs1"]["auto_max_score"]
    assert set(ps1["speedup_over_plain"]) == {"jobs1", "jobsN"} and ps1["jobsN_over_jobs1"] > 0
