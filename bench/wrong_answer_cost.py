"""What a wrong answer costs to grade, against the reference, per problem set.

Issue 13 asks that no wrong answer cost more than about twice the reference: a hidden test
that trains or iterates a student's code must stop once its outcome is known. This grades,
for each set, the reference submission (after one untimed warm-up grading, as a batch pays
its one-time costs once) and every wrong-answer case of ``tests/corpus`` (the whole
notebook, as a class batch would, not only the touched grade_id), and prints one JSON line
per submission (seconds, ratio to the reference, the slowest hidden tests) and a summary
per set. Absolute seconds are this machine's and its load's; compare ratios.

    python bench/wrong_answer_cost.py [--sets ps3] [--cases backward_lecture_mix,...]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from grader.course import resolve_assignment
from grader.grade.runner import grade_notebook
from grader.samples import build_submission

ROOT = Path(__file__).resolve().parent.parent


def corpus(ps: str) -> list:
    """The set's wrong answers (``tests/corpus`` is test data, not a package of the grader)."""
    sys.path.insert(0, str(ROOT / "tests"))
    return importlib.import_module(f"corpus.{ps}").CASES


def grade(ps: str, nb, tmp: Path, name: str) -> dict:
    path = tmp / f"{ps}-{name}.ipynb"
    nbformat.write(nb, path)
    t0 = time.perf_counter()
    result = grade_notebook(path, ps, device="cpu")
    seconds = time.perf_counter() - t0
    slow = sorted(result.tests, key=lambda t: -t.seconds)[:3]
    return {"set": ps, "case": name, "seconds": round(seconds, 2),
            "score": result.score, "max_score": result.max_score,
            "by_grade_id": {g: s for g, (s, _) in result.by_grade_id().items()},
            "slowest_tests": [[t.name, round(t.seconds, 2)] for t in slow]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="ps1,ps2,ps3,ps4", help="comma-separated (ps5 trains "
                    "for its budget on every submission; add it explicitly)")
    ap.add_argument("--cases", default="", help="only these case ids (comma-separated)")
    args = ap.parse_args()
    wanted = {c for c in args.cases.split(",") if c}
    sets = [resolve_assignment(s) for s in args.sets.split(",") if s]
    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ps in sets:
            # Once untimed: imports, the reference module and per-process calibrations are
            # a batch's one-time costs, not the reference's per-submission cost.
            grade(ps, build_submission(ps), Path(tmp), "warm-up")
            ref = grade(ps, build_submission(ps), Path(tmp), "reference")
            print(json.dumps(ref), flush=True)
            worst = None
            for case in corpus(ps):
                if wanted and case.id not in wanted:
                    continue
                nb = build_submission(
                    ps, substitutions={case.grade_id: list(case.subs)} if case.subs else None,
                    replace={case.grade_id: case.replace} if case.replace is not None else None)
                row = grade(ps, nb, Path(tmp), case.id)
                row["ratio_to_reference"] = round(row["seconds"] / ref["seconds"], 2)
                print(json.dumps(row), flush=True)
                if worst is None or row["ratio_to_reference"] > worst["ratio_to_reference"]:
                    worst = row
            summary[ps] = {"reference_s": ref["seconds"],
                           "worst_case": worst and worst["case"],
                           "worst_s": worst and worst["seconds"],
                           "worst_ratio": worst and worst["ratio_to_reference"]}
    print(json.dumps({"summary": "wrong-answer cost vs reference", "sets": summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
