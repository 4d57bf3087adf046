"""Class report: what the gradebook says about a problem set as a whole.

The gradebook answers "what did each student get"; an instructor also needs a file the LMS
gradebook imports and "which exercise did the class struggle with". Everything is read
through nbgrader's own ``Gradebook`` API, so a score changed by hand in formgrader counts
exactly as nbgrader itself counts it (``Grade.score``: the manual score if set, else the
auto score). The numbers are computed once, by the pure ``summarise``, and the CSV, the
PNG and the terminal summary are all drawn from that one ``SetReport``.
"""

from __future__ import annotations

import csv
import statistics
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..course import Course


@dataclass(frozen=True)
class CellGrade:
    """One graded cell of one submission, as the gradebook has it."""

    score: float
    max_score: float
    needs_manual_grade: bool
    scored: bool = True   # an auto or a manual score exists (else nbgrader counts it as 0)


@dataclass(frozen=True)
class StudentRow:
    student: str
    grades: dict[str, CellGrade] | None   # grade_id -> grade; None: no submission

    @property
    def submitted(self) -> bool:
        return self.grades is not None

    @property
    def total(self) -> float:
        return sum(g.score for g in (self.grades or {}).values())

    @property
    def manual_points_pending(self) -> float:
        return sum(g.max_score for g in (self.grades or {}).values() if g.needs_manual_grade)


@dataclass(frozen=True)
class SetReport:
    assignment: str
    max_points: dict[str, float]            # grade_id -> points, in notebook order
    students: tuple[StudentRow, ...]
    percents: tuple[float, ...]             # one per submission
    mean_share: dict[str, float | None]     # grade_id -> mean score/max (None: nothing scored)

    @property
    def max_score(self) -> float:
        return sum(self.max_points.values())

    def percent(self, row: StudentRow) -> float:
        return _percent(row.total, self.max_score)

    def hardest(self, k: int = 3) -> list[tuple[str, float]]:
        known = [(gid, s) for gid, s in self.mean_share.items() if s is not None]
        return sorted(known, key=lambda kv: kv[1])[:k]   # stable: ties keep notebook order


def summarise(assignment: str, max_points: dict[str, float],
              students: list[StudentRow]) -> SetReport:
    subs = [s for s in students if s.grades is not None]
    share: dict[str, float | None] = {}
    for gid in max_points:
        got = [g.score / g.max_score for s in subs
               if (g := s.grades.get(gid)) and g.scored and g.max_score]
        share[gid] = statistics.fmean(got) if got else None
    top = sum(max_points.values())
    return SetReport(assignment, dict(max_points), tuple(students),
                     tuple(_percent(s.total, top) for s in subs), share)


def _percent(total: float, max_score: float) -> float:
    return 100.0 * total / max_score if max_score else 0.0


def read_gradebook(gb, assignment: str, source_dir: Path | None = None
                   ) -> tuple[dict[str, float], list[StudentRow]]:
    """Cells (in the source notebook's order where it exists) and every student's grades."""
    from nbgrader.api import MissingEntry

    max_points: dict[str, float] = {}   # a set is one notebook here (Course's paths say so)
    for nb in sorted(gb.find_assignment(assignment).notebooks, key=lambda n: n.name):
        order = _cell_order(source_dir / f"{nb.name}.ipynb") if source_dir else {}
        for c in sorted(nb.grade_cells + nb.task_cells, key=lambda c: order.get(c.name, 1e9)):
            max_points[c.name] = float(c.max_score)
    students = []
    for student in sorted(s.id for s in gb.students):
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            students.append(StudentRow(student, None))
            continue
        students.append(StudentRow(student, {
            g.name: CellGrade(float(g.score), float(g.max_score),
                               bool(g.needs_manual_grade),
                               g.auto_score is not None or g.manual_score is not None)
            for n in sub.notebooks for g in n.grades}))
    return max_points, students


def _cell_order(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    import nbformat

    from ..notebooks import cells
    nb = nbformat.read(path, as_version=4)
    return {gid: i for i, c in enumerate(nb.cells) if (gid := cells.grade_id(c))}


def _num(x: float) -> str:
    r = round(x, 2)
    return str(int(r)) if r == int(r) else str(r)


def write_csv(report: SetReport, path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", *report.max_points, "total", "max_score", "percent",
                    "manual_points_pending", "submitted"])
        for s in report.students:
            g = s.grades or {}
            w.writerow([s.student, *(_num(g[i].score) if i in g else "" for i in report.max_points),
                        _num(s.total), _num(report.max_score), _num(report.percent(s)),
                        _num(s.manual_points_pending), "yes" if s.submitted else "no"])


def write_course_csv(reports: list[SetReport], path: Path) -> None:
    totals = {r.assignment: {s.student: s.total for s in r.students} for r in reports}
    students = sorted({s for t in totals.values() for s in t})
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", *totals])
        for s in students:
            w.writerow([s, *(_num(t.get(s, 0.0)) for t in totals.values())])


def draw(report: SetReport):
    """The set's figure (a matplotlib Figure: no pyplot, no global backend state)."""
    from matplotlib.figure import Figure

    ids = list(report.max_points)
    fig = Figure(figsize=(12, max(4.0, 0.32 * len(ids) + 1.6)), layout="constrained")
    hist, bars = fig.subplots(1, 2, width_ratios=(1, 1.4))
    hist.hist([min(max(p, 0.0), 100.0) for p in report.percents], bins=range(0, 101, 10),
              color="tab:blue", edgecolor="white")
    hist.set(xlim=(0, 100), xlabel="percent of points", ylabel="submissions",
             title="score distribution")
    hist.yaxis.get_major_locator().set_params(integer=True)
    hard = {gid for gid, _ in report.hardest()}
    widths = [report.mean_share[i] or 0.0 for i in ids]
    drawn = bars.barh(range(len(ids)), widths,
                      color=["tab:red" if i in hard else "tab:gray" for i in ids])
    bars.bar_label(drawn, labels=["not scored" if report.mean_share[i] is None else f"{w:.0%}"
                                  for i, w in zip(ids, widths, strict=True)], padding=2)
    bars.set_yticks(range(len(ids)), [f"{i} ({report.max_points[i]:g} pt)" for i in ids])
    bars.invert_yaxis()   # notebook order, top to bottom
    bars.set(xlim=(0, 1.12), xlabel="mean share of the points (1 = every submission full marks)",
             title="per exercise, in notebook order (red: lowest 3)")
    mean = statistics.fmean(report.percents) if report.percents else 0.0
    fig.suptitle(f"{report.assignment}: {len(report.percents)} submissions, mean {mean:.1f}%")
    return fig


def summary(reports: list[SetReport]) -> str:
    from .table import render

    rows = [(r.assignment, len(r.percents), len(r.students),
             round(statistics.fmean(r.percents), 1), round(statistics.median(r.percents), 1),
             ", ".join(f"{gid} {s:.0%}" for gid, s in r.hardest()))
            for r in reports]
    return render(("set", "submitted", "students", "mean %", "median %",
                   "lowest mean share of points"), rows)


def _resolve(name: str, known: list[str]) -> str | None:
    """A set's full name from its full or short name (``ps1`` for ``ps1_tensors``)."""
    matches = [k for k in known if name in (k, k.split("_", 1)[0])]
    return matches[0] if len(matches) == 1 else None


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(*, assignments: list[str] | None = None, course: Course | None = None,
         out_dir: Path | None = None, quiet: bool = False) -> int:
    from nbgrader.api import Gradebook

    from ..autograde.nbgrader_api import make_api

    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy noise from its API
    course = course or Course.from_env()
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
