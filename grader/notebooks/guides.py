"""Written answers' model answers and marking guides, as the source notebooks hold them.

A written-answer cell in ``source/`` (Markdown, solution and grade) holds the model answer
followed by a paragraph that starts with ``*Marking guide``. The release replaces the
whole cell with a stub; the autograded notebook gets both back in a box under the
student's answer for whoever grades it in formgrader, and feedback drops that box again.
"""

from __future__ import annotations

import re

from nbformat.notebooknode import NotebookNode

from . import cells

_GUIDE = re.compile(r"^\s*\*{1,2}Marking guide", re.MULTILINE)
_MODEL = re.compile(r"^\s*\*{2}Model answer\.?\*{2}\s*", re.IGNORECASE)


def split_guide(text: str) -> tuple[str, str]:
    """``(model answer, marking guide)`` of a source written-answer cell.

    >>> split_guide("**Model answer.**\\n\\nIt is 2.\\n\\n*Marking guide (1 point):* the 2.")
    ('It is 2.', '*Marking guide (1 point):* the 2.')
    >>> split_guide("Just an answer.")
    ('Just an answer.', '')
    """
    match = _GUIDE.search(text)
    answer, guide = (text[:match.start()], text[match.start():]) if match else (text, "")
    return _MODEL.sub("", answer, count=1).strip(), guide.strip()


def written_answers(source: NotebookNode) -> dict[str, tuple[str, str]]:
    """``grade_id -> (model answer, marking guide)`` for every written answer of a source."""
    return {cells.grade_id(c): split_guide(c.source) for c in source.cells
            if cells.is_written_answer(c)}
