"""Class report: what the gradebook says about a problem set as a whole.

The gradebook answers "what did each student get"; an instructor also needs a file the LMS
gradebook imports and "which exercise did the class struggle with". This module is pure
presentation: ``autograde.gradebook`` reads the rows through nbgrader's own API, the
numbers are computed once, by the pure ``summarise``, and the CSV, the PNG and the
terminal summary are all drawn from that one ``SetReport``. The ``report`` verb that
ties the two together is ``autograde.class_report``.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from .table import points, render


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


def write_csv(report: SetReport, path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", *report.max_points, "total", "max_score", "percent",
                    "manual_points_pending", "submitted"])
        for s in report.students:
            g = s.grades or {}
            w.writerow([s.student, *(points(g[i].score) if i in g else "" for i in report.max_points),
                        points(s.total), points(report.max_score), points(report.percent(s)),
                        points(s.manual_points_pending), "yes" if s.submitted else "no"])


def write_course_csv(reports: list[SetReport], path: Path) -> None:
    totals = {r.assignment: {s.student: s.total for s in r.students} for r in reports}
    students = sorted({s for t in totals.values() for s in t})
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", *totals])
        for s in students:
            w.writerow([s, *(points(t.get(s, 0.0)) for t in totals.values())])


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
    rows = [(r.assignment, len(r.percents), len(r.students),
             round(statistics.fmean(r.percents), 1), round(statistics.median(r.percents), 1),
             ", ".join(f"{gid} {s:.0%}" for gid, s in r.hardest()))
            for r in reports]
    return render(("set", "submitted", "students", "mean %", "median %",
                   "lowest mean share of points"), rows)
