"""Where things are in a course directory, and which problem set a name or notebook is.

One home for the course's names: the sets are discovered from ``source/`` (a sixth set is a
new folder, not a change to the grader), ``resolve_assignment`` turns what a user types
(``ps1``, ``ps1_tensors``) into the set's full name, and ``identify_notebook`` tells which
set a notebook belongs to from its cells' ``grade_id``s, so that a ps2 notebook graded as
ps1 is named instead of silently scoring 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import REPO_ROOT


class UnknownAssignment(ValueError):
    """A name that is not one of the course's problem sets (the CLI exits 2 with it)."""


@dataclass(frozen=True)
class Course:
    """An nbgrader course directory (by default this repository)."""

    root: Path = REPO_ROOT

    @classmethod
    def find(cls, here: Path) -> Course:
        """``here`` when it is a course (it has ``nbgrader_config.py`` and ``source/``, as
        nbgrader expects); else this repository. (``config.Settings`` decides, with
        ``GRADER_COURSE_ROOT`` first.)"""
        if (here / "nbgrader_config.py").exists() and (here / "source").is_dir():
            return cls(here.resolve())
        return cls(REPO_ROOT)

    def problem_sets(self) -> tuple[str, ...]:
        """Every set of the course: each ``source/<name>/<name>.ipynb``, in name order.

        >>> Course().problem_sets()[:2]
        ('ps1_tensors', 'ps2_gradients')
        """
        source = self.root / "source"
        if not source.is_dir():
            return ()
        return tuple(sorted(d.name for d in source.iterdir()
                            if d.is_dir() and self.source_notebook(d.name).is_file()))

    def source_notebook(self, assignment: str) -> Path:
        return self.root / "source" / assignment / f"{assignment}.ipynb"

    def release_notebook(self, assignment: str) -> Path:
        return self.root / "release" / assignment / f"{assignment}.ipynb"

    def submitted_notebook(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment / f"{assignment}.ipynb"

    def autograded_dir(self, student: str, assignment: str) -> Path:
        return self.root / "autograded" / student / assignment

    def results_dir(self, assignment: str) -> Path:
        """Per-student grading results (JSON), kept so that a rerun resumes."""
        return self.root / "autograded" / ".grader" / assignment


def short_name(assignment: str) -> str:
    """What a user may type for a set: the part before the first underscore.

    >>> short_name("ps5_mnist_cnn"), short_name("quiz")
    ('ps5', 'quiz')
    """
    return assignment.split("_", 1)[0]


def resolve_assignment(name: str, course: Course | None = None) -> str:
    """The full name of one of the course's sets from its full or short name.

    >>> resolve_assignment("ps1"), resolve_assignment("ps5_mnist_cnn")
    ('ps1_tensors', 'ps5_mnist_cnn')
    """
    sets = (course or Course()).problem_sets()
    if name in sets:
        return name
    matches = [ps for ps in sets if short_name(ps) == name]
    if len(matches) == 1:
        return matches[0]
    short = ", ".join(f"{short_name(ps)} ({ps})" for ps in sets) or "none (source/ is empty)"
    why = "ambiguous" if matches else "unknown"
    raise UnknownAssignment(f"{why} assignment {name!r}; expected one of: {short}")


def grade_ids_of(path: Path) -> set[str]:
    """The ``grade_id``s of a notebook's graded and solution cells (empty if unreadable)."""
    import nbformat

    from .notebooks import cells

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return set()
    return {cells.grade_id(c) for c in nb.cells
            if (c.get("metadata", {}).get("nbgrader") or {}).get("grade") or cells.is_code_solution(c)}


def identify_notebook(path: Path, course: Course) -> str | None:
    """The problem set whose source shares most graded ``grade_id``s with this notebook.

    ``None`` when no set shares any (not an nbgrader notebook of this course).
    """
    mine = grade_ids_of(path) - {None}
    best, best_overlap = None, 0
    for ps in course.problem_sets():
        src = course.source_notebook(ps)
        if not src.exists():
            continue
        overlap = len(mine & grade_ids_of(src))
        if overlap > best_overlap:
            best, best_overlap = ps, overlap
    return best
