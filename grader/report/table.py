"""Plain-text tables for terminals (no extra dependency).

Numbers are right-aligned and printed with at most two decimals; text is left-aligned and
never cut: a long message wraps onto continuation lines under its own column.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from ..results import GradeResult

MESSAGE_WIDTH = 72


def render(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table with a rule under the headers.

    >>> print(render(("name", "score"), [("a", 1.5), ("bb", 10)]))
    name  score
    ----  -----
    a       1.5
    bb       10
    """
    numeric = [all(isinstance(r[i], int | float) for r in rows) and bool(rows)
               for i in range(len(headers))]
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        line = "  ".join(v.rjust(w) if numeric[i] else v.ljust(w)
                         for i, (v, w) in enumerate(zip(row, widths, strict=True)))
        lines.append(line.rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def points(value: float) -> str:
    """Points for people: at most two decimals, no trailing zeros.

    >>> points(19.0347), points(131.036), points(3.0)
    ('19.03', '131.04', '3')
    """
    return f"{round(value + 0.0, 2):.2f}".rstrip("0").rstrip(".")


def _fmt(value: object) -> str:
    return points(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def result_table(result: GradeResult) -> str:
    rows = [(t.name, _fmt(t.score), _fmt(t.max_score), t.output) for t in result.tests]
    name_w = max([len("test"), *(len(r[0]) for r in rows)])
    lines = [f"{'test'.ljust(name_w)}  score    max  message",
             f"{'-' * name_w}  -----  -----  {'-' * 7}"]
    for name, score, maximum, message in rows:
        wrapped = textwrap.wrap(message, MESSAGE_WIDTH) or [""]
        lines.append(f"{name.ljust(name_w)}  {score.rjust(5)}  {maximum.rjust(5)}  {wrapped[0]}")
        lines.extend(f"{'':{name_w}}  {'':5}  {'':5}  {more}" for more in wrapped[1:])
    total = (f"\nTotal: {_fmt(result.score)} / {_fmt(result.max_score)} "
             f"({result.percent:.1f}%)")
    notes = "".join(f"\nnote: {n}" for n in result.notes)
    return "\n".join(lines) + total + notes
