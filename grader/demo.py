"""The main job: fetch data, release, create sample submissions, autograde, print grades.

Three simulated students per problem set show the whole pipeline on a fresh machine:
``demo-reference`` (the instructor's answers), ``demo-blank`` (the release untouched) and
``demo-partial`` (a few plausible mistakes). They live in a throwaway course under
``out/demo/`` with its own gradebook, so the real course never sees them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

from .config import Settings
from .course import Course, resolve_assignment
from .samples import Substitutions, build_submission, write_submission


class _DemoMistakes(Mapping[str, Substitutions]):
    """The demo's partial student per set: ``DEMO_MISTAKES`` of the set's hidden-test package
    (exact substitutions on the reference answers; none when the package defines none), so
    that the grader itself names no set."""

    def __getitem__(self, assignment: str) -> Substitutions:
        from .hidden import hidden_package

        return dict(getattr(hidden_package(assignment), "DEMO_MISTAKES", {}))

    def __iter__(self) -> Iterator[str]:
        return iter(Course().problem_sets())

    def __len__(self) -> int:
        return len(Course().problem_sets())


PARTIAL: Mapping[str, Substitutions] = _DemoMistakes()


def main(*, jobs: int = 2, assignments: list[str] | None = None,
         settings: Settings | None = None, unsandboxed: bool = False,
         out: Path | None = None) -> int:
    """Run the demo in a throwaway course (``out/demo/`` of the settings' course), never in it.

    Its gradebook, ``submitted/``, ``autograded/`` and ``feedback/`` live in the throwaway
    course only, so ``nbgrader export`` and ``release_feedback`` of the real course never
    see the demo students; a rerun starts from scratch.
    """
    from .autograde import main as autograde
    from .release import main as release
    from .report.table import render

    settings = settings or Settings.from_env()
    real = settings.course
    names = [resolve_assignment(a, real) for a in assignments] if assignments else list(
        real.problem_sets())
    demo = _throwaway_course(real, names, out or real.root / "out" / "demo")
    in_demo = settings.with_course(demo)
    print(f"demo course (throwaway): {demo.root}")
    with _demo_env(demo):
        if release(assignments=names, settings=in_demo):
            return 1
        for ps in names:
            for student, kwargs in (("demo-reference", {}), ("demo-blank", {"answers": "blank"}),
                                    ("demo-partial", {"substitutions": PARTIAL[ps]})):
                write_submission(build_submission(ps, course=demo, **kwargs), demo.root, student, ps)
        status = 0
        for ps in names:
            print(f"\n== {ps}")
            status |= autograde(assignment=ps, jobs=jobs, settings=in_demo, unsandboxed=unsandboxed)
        print("\n== grade table (from the demo's gradebook; written answers wait for manual grading)")
        print(render(("student", *names, "total"), _gradebook_rows(demo, names)))
        print(f"\nfeedback: {demo.root / 'feedback'}  (delete {demo.root} when done)")
    return status


def _throwaway_course(real: Course, names: list[str], root: Path) -> Course:
    """A fresh course at ``root``: the real course's config and the chosen source notebooks."""
    root = root.resolve()
    if root == real.root.resolve():
        raise ValueError(f"the demo course must not be the real course ({root})")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copy2(real.root / "nbgrader_config.py", root / "nbgrader_config.py")
    for ps in names:
        shutil.copytree(real.source_notebook(ps).parent, root / "source" / ps)
    return Course(root)


@contextlib.contextmanager
def _demo_env(demo: Course):
    """The demo's own gradebook and course id, whatever the instructor's environment says."""
    keys = {"NBGRADER_DB_URL": f"sqlite:///{demo.root / 'gradebook.db'}",
            "COURSE_ID": "intro-dl-demo"}
    before = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _gradebook_rows(course: Course, names: list[str]) -> list[tuple]:
    from nbgrader.api import Gradebook

    from .autograde.gradebook import Standing, standing
    from .autograde.nbgrader_api import make_api

    warnings.filterwarnings("ignore", module="nbgrader")
    api = make_api(course.root)
    rows = []
    with Gradebook(api.coursedir.db_url, course_id=api.coursedir.course_id) as gb:
        for student in sorted(s.id for s in gb.students):
            row: list[object] = [student]
            total = Standing(0.0, 0.0, 0.0)
            for ps in names:
                now = standing(gb, ps, student)
                row.append(now.describe() if now else "-")
                if now:
                    total = Standing(total.score + now.score, total.max_score + now.max_score,
                                     total.manual_pending + now.manual_pending)
            row.append(total.describe())
            rows.append(tuple(row))
    return rows
