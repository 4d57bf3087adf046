"""Model answers and marking guides shown to graders in formgrader, never in feedback.

``AddMarkingGuides`` (last in the autograde chain) puts a box under each written answer
of the autograded notebook, which is what formgrader shows the person grading it, with the
source's model answer and marking guide. ``StripMarkingGuides`` (first in
``GenerateFeedback.preprocessors``) removes every such box before the feedback HTML is
made, so a student never receives them.
"""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from ...notebooks import cells
from ...notebooks.guides import written_answers
from . import course_of

MARK = "marking_guide"   # metadata.grader.marking_guide = <grade_id> on an inserted cell


def is_guide(cell) -> bool:
    return bool(cell.get("metadata", {}).get("grader", {}).get(MARK))


def _quoted(text: str) -> str:
    """A Markdown blockquote, which formgrader sets apart from the student's answer."""
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


class AddMarkingGuides(NbGraderPreprocessor):
    course_root = Unicode("", help="The course directory (default: CourseDirectory.root)").tag(config=True)

    def preprocess(self, nb, resources):
        source = course_of(self).source_notebook(resources["nbgrader"]["assignment"])
        guides = written_answers(nbformat.read(source, as_version=4)) if source.exists() else {}
        out = []
        for cell in nb.cells:
            if is_guide(cell):
                continue                      # a rerun replaces the old box
            out.append(cell)
            gid = cells.grade_id(cell)
            if cells.is_written_answer(cell) and gid in guides:
                answer, guide = guides[gid]
                text = (f"**For graders only (not in feedback): model answer and marking guide "
                        f"for `{gid}`** ({cells.points(cell):g} points)\n\n{answer}\n\n{guide}")
                box = nbformat.v4.new_markdown_cell(_quoted(text))
                box.metadata["grader"] = {MARK: gid}
                out.append(box)
        nb.cells = out
        return nb, resources


class StripMarkingGuides(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if not is_guide(c)]
        return nb, resources
