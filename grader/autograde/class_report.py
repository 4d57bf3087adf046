"""``python -m grader report``: the class report of one or more sets, from the gradebook.

Reads every student's grades through ``gradebook`` and hands them to the pure
presentation in ``report.class_report`` (CSV per set, a course CSV, a PNG per set, a
terminal summary).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from ..config import Settings
from ..report.class_report import draw, summarise, summary, write_course_csv, write_csv
from .gradebook import read_gradebook


def _resolve(name: str, known: list[str]) -> str | None:
    """A set's full name from its full or short name (``ps1`` for ``ps1_tensors``)."""
    matches = [k for k in known if name in (k, k.split("_", 1)[0])]
    return matches[0] if len(matches) == 1 else None


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(*, assignments: list[str] | None = None, settings: Settings | None = None,
         out_dir: Path | None = None, quiet: bool = False) -> int:
    from nbgrader.api import Gradebook

    from .nbgrader_api import make_api

    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy noise from its API
    course = (settings or Settings.from_env()).course
    coursedir = make_api(course.root).coursedir
    db = coursedir.db_url
    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        return _fail(f"no gradebook at {db}; grade a batch first (python -m grader autograde)")
    with Gradebook(db, course_id=coursedir.course_id) as gb:
        known = sorted(a.name for a in gb.assignments)
        if not known:
            return _fail(f"the gradebook {db} is empty; grade a batch first")
        names = [_resolve(n, known) for n in assignments or known]
        missing = [n for n, full in zip(assignments or known, names, strict=True) if not full]
        if missing:
            return _fail(f"{', '.join(missing)}: not in the gradebook {db} "
                         f"(it has {', '.join(known)})")
        reports = [summarise(n, *read_gradebook(gb, n, course.root / "source" / n))
                   for n in names]
    empty = [r.assignment for r in reports if not r.percents]
    if empty:
        return _fail(f"{', '.join(empty)}: no submissions in the gradebook {db}")
    out_dir = out_dir or course.root / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for r in reports:
        write_csv(r, out_dir / f"{r.assignment}.csv")
        draw(r).savefig(out_dir / f"{r.assignment}.png", dpi=100)
        written += [out_dir / f"{r.assignment}.csv", out_dir / f"{r.assignment}.png"]
    write_course_csv(reports, out_dir / "all.csv")
    if not quiet:
        print(summary(reports))
        print("wrote:", *(str(p) for p in [*written, out_dir / "all.csv"]), sep="\n  ")
    return 0
