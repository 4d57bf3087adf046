"""Rules on ``release/``: no line of a solution reaches students, and the committed release
is exactly what ``nbgrader generate_assignment`` makes from the source today."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from ..notebooks import cells
from .findings import Finding, cell_label

SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def leaked_lines(source: NotebookNode, released: NotebookNode) -> dict[str, int]:
    """Solution lines of the source that appear in the release, with the release cell index.

    A line the source also shows outside solutions (a signature, a test, a demo) is public
    anyway and not a leak; written answers count as solution text as a whole.
    """
    public, solution = set(), set()
    for c in source.cells:
        if cells.is_written_answer(c):
            solution |= {ln.strip() for ln in c.source.splitlines() if ln.strip()}
            continue
        for block in SOLUTION_BLOCK.findall(c.source):
            solution |= {ln.strip() for ln in block.splitlines() if ln.strip()}
        public |= {ln.strip() for ln in SOLUTION_BLOCK.sub("", c.source).splitlines() if ln.strip()}
    secret = solution - public
    return {ln.strip(): i for i, c in enumerate(released.cells)
            for ln in c.source.splitlines() if ln.strip() in secret}


def leak_rules(source_path: Path, release_path: Path) -> list[Finding]:
    if not release_path.exists():
        return [Finding("release-missing", release_path, "", "the set has no released notebook",
                        "run `python -m grader release`")]
    source = nbformat.read(source_path, as_version=4)
    released = nbformat.read(release_path, as_version=4)
    return [Finding("solution-leak", release_path,
                    cell_label(i, cells.grade_id(released.cells[i])),
                    f"solution line {line!r} is in the student version",
                    "put it between the solution markers in the source, then "
                    "`python -m grader release`")
            for line, i in sorted(leaked_lines(source, released).items(), key=lambda x: x[1])]


def generate_fresh(course_root: Path, assignment: str, dest: Path) -> Path:
    """``release/<assignment>`` as nbgrader generates it now, into a scratch course ``dest``
    holding only the course's config and this set's source (nbgrader's own API, no database)."""
    from traitlets.config import Config

    from ..autograde.nbgrader_api import make_api

    shutil.copy2(course_root / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(course_root / "source" / assignment, dest / "source" / assignment)
    overrides = Config()
    overrides.CourseDirectory.root = str(dest)
    overrides.GenerateAssignment.no_database = True   # nbgrader's own `--no-db`: no gradebook
    overrides.SaveCells.enabled = False               # to create (2 s of alembic per set)
    outcome = make_api(dest, overrides).generate_assignment(assignment, force=True, create=True)
    if not outcome.get("success"):
        text = f"{outcome.get('log') or ''}\n{outcome.get('error') or ''}"
        reasons = [ln.strip() for ln in text.splitlines() if "Error:" in ln]
        raise GenerateFailed(reasons[-1] if reasons else "see `python -m grader release`")
    return dest / "release" / assignment


class GenerateFailed(RuntimeError):
    """nbgrader could not generate the student version; the message is its reason."""


def stale_files(committed: Path, fresh: Path) -> list[str]:
    """Files (relative) that differ between a committed release folder and a fresh one."""
    def files(d: Path) -> set[Path]:
        return {p.relative_to(d) for p in d.rglob("*") if p.is_file()} if d.is_dir() else set()

    a, b = files(committed), files(fresh)
    return sorted(str(p) for p in (a ^ b) | {p for p in a & b
                                             if (committed / p).read_bytes() != (fresh / p).read_bytes()})


def current_rules(course_root: Path, assignment: str) -> list[Finding]:
    committed = course_root / "release" / assignment
    with tempfile.TemporaryDirectory(prefix="lint-release-") as tmp:
        try:
            fresh = generate_fresh(course_root, assignment, Path(tmp))
        except GenerateFailed as exc:
            return [Finding("generate-fails", course_root / "source" / assignment / f"{assignment}.ipynb",
                            "", f"nbgrader generate_assignment fails: {exc}",
                            "fix the findings above, then `python -m grader release`")]
        return [Finding("release-stale", committed / rel, "",
                        "differs from a fresh nbgrader generate_assignment of the source",
                        f"run `python -m grader release {assignment}` and commit release/")
                for rel in stale_files(committed, fresh)]
