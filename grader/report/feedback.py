"""How hidden-test results appear under a student's answer cell (feedback-safe)."""

from __future__ import annotations

import base64
import html
from typing import Any

import nbformat

from ..results import TestResult


def hidden_summary_text(tests: list[TestResult]) -> str:
    lines = ["Hidden tests:"]
    for t in tests:
        mark = "PASS" if t.passed else ("PART" if t.score > 0 else "FAIL")
        lines.append(f"  [{mark}] {t.name} ({t.score:g}/{t.max_score:g}): {t.output}")
    return "\n".join(lines)


def hidden_summary_html(tests: list[TestResult]) -> str:
    rows = []
    for t in tests:
        color = "#2e7d32" if t.passed else ("#f9a825" if t.score > 0 else "#c62828")
        rows.append(
            f"<tr><td style='color:{color};font-weight:bold'>{t.score:g}/{t.max_score:g}</td>"
            f"<td>{html.escape(t.name)}</td><td>{html.escape(t.output)}</td></tr>")
    return ("<div class='grader-hidden-tests'><b>Hidden tests</b>"
            "<table><tr><th>points</th><th>test</th><th>result</th></tr>"
            + "".join(rows) + "</table></div>")


def confusion_output(extra: dict[str, Any]):
    """ps5: the confusion matrix on the evaluation set as a PNG output, with what it means."""
    if "confusion" not in extra:
        return None
    from .pictures import confusion_png

    png = confusion_png(extra["confusion"], f"evaluation set: {100 * extra['accuracy']:.2f}%")
    caption = (f"Evaluation set: {extra.get('evaluation', '')}. Accuracy {100 * extra['accuracy']:.2f}% "
               f"(plain test digits: {100 * extra.get('plain_accuracy', 0):.2f}%); "
               f"rows are true digits, columns predictions.")
    return nbformat.v4.new_output("display_data", data={
        "image/png": base64.b64encode(png).decode(), "text/plain": caption})
