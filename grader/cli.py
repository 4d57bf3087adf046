"""``python -m grader VERB``: a thin parser that forwards to each verb's ``main(*, ...)``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import PROBLEM_SETS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = p.add_subparsers(dest="verb", required=True)

    g = sub.add_parser("grade", help="grade one notebook (CI, a student's own check)")
    g.add_argument("path", type=Path)
    g.add_argument("--assignment", required=True, choices=PROBLEM_SETS)
    g.add_argument("--json", dest="json_out", type=Path, help="write Gradescope results.json here")
    g.add_argument("--junit", dest="junit_out", type=Path, help="write JUnit XML here")
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    g.add_argument("--fail-under", type=float, metavar="PCT", help="exit 1 below this percentage")
    g.add_argument("--quiet", action="store_true")
    g.add_argument("--unsandboxed", action="store_true",
                   help="run the worker without bubblewrap even where it is available "
                        "(the result says so); without bubblewrap this happens anyway, loudly")

    a = sub.add_parser("autograde", help="grade submitted/ into the gradebook, autograded/, feedback/")
    a.add_argument("assignment", choices=PROBLEM_SETS)
    a.add_argument("--student")
    a.add_argument("--jobs", type=int, default=1)
    a.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    a.add_argument("--workers-per-gpu", type=int, metavar="N",
                   help="on CUDA: at most N workers share one GPU, each with 1/N of its memory "
                        "(default: the jobs spread evenly over the visible GPUs)")
    a.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    a.add_argument("--no-feedback", dest="feedback", action="store_false")
    a.add_argument("--unsandboxed", action="store_true",
                   help="grade without the bubblewrap sandbox (student code can then read and "
                        "change this machine's files); refused by default where it is missing")

    d = sub.add_parser("fetch-data", help="make MNIST available (verified) under the data root")
    d.add_argument("--root", type=Path, help="data root (default: $GRADER_DATA_ROOT or ./data)")
    d.add_argument("--quiet", action="store_true")

    r = sub.add_parser("release", help="regenerate release/ from source/ with nbgrader")
    r.add_argument("assignments", nargs="*", metavar="psN", help="default: all")

    n = sub.add_parser("normalize", help="strip outputs and normalise source notebooks in place")
    n.add_argument("paths", nargs="*", type=Path)
    n.add_argument("--check", action="store_true", help="only report; exit 1 if any would change")

    m = sub.add_parser("demo", help="the main job: data, release, sample submissions, grade table")
    m.add_argument("--jobs", type=int, default=2)
    m.add_argument("--assignments", nargs="*", choices=PROBLEM_SETS)
    m.add_argument("--unsandboxed", action="store_true", help="as for autograde")
    return p


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    verb = args.pop("verb")
    if verb == "grade":
        from .grade import main as run
    elif verb == "autograde":
        from .autograde import main as run
    elif verb == "fetch-data":
        from .data.mnist import main as run
    elif verb == "release":
        from .release import main as run
    elif verb == "normalize":
        from .notebooks.normalize import main as run
    else:
        from .demo import main as run
    return int(run(**args) or 0)


if __name__ == "__main__":
    sys.exit(main())
