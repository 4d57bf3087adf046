"""Stands where nbgrader's ``Execute`` would: the sandboxed grader's result becomes outputs.

Instead of running the notebook (and its tests) in the student's kernel, it takes the
result that sandboxed grading produced for exactly this submission (``python -m grader
autograde`` grades a class in parallel first) and turns it into cell outputs, which
``SaveAutoGrades`` then scores as usual. Where no such result exists (plain ``nbgrader
autograde``, formgrader's Autograde button) it grades the submission now, in the sandbox,
or refuses with a message naming ``python -m grader autograde``.
"""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from ...course import Course
from ...notebooks import cells
from ...report.feedback import confusion_output, hidden_summary_html, hidden_summary_text
from ...results import GradeResult
from . import course_of

RESULT_KEY = "grader_result"   # where the chain's later preprocessors find the result


class ApplyGraderResults(NbGraderPreprocessor):
    course_root = Unicode("", help="The course directory (default: CourseDirectory.root)").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        result = self.result_for(course_of(self), info["assignment"], info["student"])
        resources[RESULT_KEY] = result
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

    def result_for(self, course: Course, assignment: str, student: str) -> GradeResult:
        """The saved result of this very submission, or a fresh sandboxed grading of it."""
        from ... import config
        from ...sandbox import isolation
        from ..batch import grade_task, handed_result, task_for

        task = task_for(course, assignment, student)
        if not task.notebook.exists():
            raise FileNotFoundError(f"no submission of {assignment} for {student} at {task.notebook}")
        handed = handed_result(task, course, assignment)
        if handed is not None:   # python -m grader autograde: graded moments ago, this process
            return handed
        if task.is_done():
            return GradeResult.load(task.result_path)
        if not isolation.available():
            raise RuntimeError(
                f"refusing to grade {student}/{assignment} without the worker sandbox "
                f"({isolation.probe()}); run `python -m grader autograde {assignment}` "
                "(its --unsandboxed accepts the risk)")
        self.log.warning("grading %s/%s now, in the sandbox (python -m grader autograde %s "
                         "grades a whole class in parallel)", student, assignment, assignment)
        return grade_task(task, assignment, settings=config.Settings.from_env(course=course),
                          profile=config.resolve_profile("auto"))

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
