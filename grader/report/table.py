"""Plain-text tables for terminals (no extra dependency)."""

from __future__ import annotations

from collections.abc import Sequence

from ..grade.results import GradeResult


def render(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def result_table(result: GradeResult) -> str:
    rows = [(t.name, t.score, t.max_score, t.output if len(t.output) < 90 else t.output[:87] + "...")
            for t in result.tests]
    body = render(("test", "score", "max", "message"), rows)
    total = f"\nTotal: {result.score:g} / {result.max_score:g} ({result.percent:.1f}%)"
    notes = "".join(f"\nnote: {n}" for n in result.notes)
    return body + total + notes
