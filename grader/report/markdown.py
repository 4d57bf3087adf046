"""A grading result as Markdown: a CI job summary (GitHub's ``$GITHUB_STEP_SUMMARY``).

Only what the student may see: test names, points and the messages that already go into
feedback; no hidden test's inputs or the reference.
"""

from __future__ import annotations

from ..results import GradeResult


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def markdown_summary(result: GradeResult, *, fail_under: float | None = None) -> str:
    """A heading with the total and a table of tests.

    >>> from ..results import TestResult
    >>> r = GradeResult("ps1_tensors", "ps1.ipynb", tests=[TestResult("t", "g", 1, 2, "half")])
    >>> print(markdown_summary(r).splitlines()[0])
    ### ps1_tensors: 1 / 2 points (50.0%)
    """
    lines = [f"### {result.assignment}: {result.score:g} / {result.max_score:g} points "
             f"({result.percent:.1f}%)"]
    if fail_under is not None:
        verdict = "passed" if result.percent >= fail_under else "failed"
        lines.append(f"\n**{verdict}** (required: {fail_under:g}%)")
    lines += ["", "| | test | points | message |", "|---|---|---:|---|"]
    for t in result.tests:
        mark = "✅" if t.passed else ("🟡" if t.score > 0 else "❌")
        lines.append(f"| {mark} | {_cell(t.name)} | {t.score:g}/{t.max_score:g} | {_cell(t.output)} |")
    lines += [f"\n> {_cell(n)}" for n in result.notes]
    return "\n".join(lines) + "\n"
