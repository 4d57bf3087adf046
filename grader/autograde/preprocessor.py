"""nbgrader preprocessor that writes the trusted grader's results into the notebook.

It stands where nbgrader's ``Execute`` would: instead of running the notebook (and its
tests) in the student's kernel, it reads the result that the sandboxed grading produced
and turns it into cell outputs, which ``SaveAutoGrades`` then scores as usual.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from ..grade.results import GradeResult
from ..notebooks import cells
from .render import confusion_output, hidden_summary_html, hidden_summary_text


class ApplyGraderResults(NbGraderPreprocessor):
    results_dir = Unicode("", help="Folder of per-student GradeResult JSON files").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        path = Path(self.results_dir) / f"{student}.json"
        if not path.exists():
            raise FileNotFoundError(f"no grading result for student {student!r} at {path}")
        result = GradeResult.load(path)
        runs = {c.index: c for c in result.cells}
        by_gid: dict[str, list] = {}
        for t in result.tests:
            by_gid.setdefault(t.grade_id, []).append(t)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            gid = cells.grade_id(cell)
            if cells.is_public_test(cell):
                self._public_outputs(cell, by_gid.get(gid, []))
                continue
            run = runs.get(index)
            if run is not None:
                self._run_outputs(cell, run)
            if cells.is_code_solution(cell) and by_gid.get(gid):
                hidden = [t for t in by_gid[gid] if t.kind != "public"]
                cell.outputs.append(nbformat.v4.new_output(
                    "display_data", data={"text/plain": hidden_summary_text(hidden),
                                          "text/html": hidden_summary_html(hidden)}))
                for t in hidden:
                    picture = confusion_output(t.extra)
                    if picture is not None:
                        cell.outputs.append(picture)
        return nb, resources

    @staticmethod
    def _run_outputs(cell, run) -> None:
        if run.stdout:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=run.stdout))
        if run.stderr:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=run.stderr))
        if not run.ok:
            ename, _, evalue = run.error.partition(": ")
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename=ename or "Error", evalue=evalue, traceback=[run.error]))

    @staticmethod
    def _public_outputs(cell, tests) -> None:
        if not tests:
            return
        t = tests[0]
        if t.passed:
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout", text=f"passed (checked by the grader): {t.name}\n"))
        else:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="TestFailed", evalue=t.output, traceback=[f"TestFailed: {t.output}"]))
