"""Where things are in a course directory, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import PROBLEM_SETS

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Course:
    """An nbgrader course directory (by default this repository)."""

    root: Path = REPO_ROOT

    @classmethod
    def from_env(cls) -> Course:
        return cls(Path(os.environ.get("GRADER_COURSE_ROOT", REPO_ROOT)).resolve())

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


def check_assignment(name: str) -> str:
    if name not in PROBLEM_SETS:
        raise SystemExit(f"unknown assignment {name!r}; expected one of: {', '.join(PROBLEM_SETS)}")
    return name
