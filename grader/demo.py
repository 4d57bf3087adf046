"""The main job: fetch data, release, create sample submissions, autograde, print grades.

Three simulated students per problem set show the whole pipeline on a fresh machine:
``demo-reference`` (the instructor's answers), ``demo-blank`` (the release untouched) and
``demo-partial`` (a few plausible mistakes).
"""

from __future__ import annotations

import warnings

from . import PROBLEM_SETS
from .course import Course
from .samples import Substitutions, build_submission, write_submission

# A few plausible mistakes per set (exact substitutions on the reference answers).
PARTIAL: dict[str, Substitutions] = {
    "ps1_tensors": {
        "mul_and_matmul": [("return m1 * m2, m1 @ m2", "return m1 * m2, m1 * m2")],
        "take_columns": [("t[:, start:stop]", "t[:, start:stop + 1]")],
    },
    "ps2_gradients": {   # the lecture's summed gradient instead of the mean
        "mse_gradients": [("(2.0 / m) * ", "2.0 * ")],
    },
    "ps3_backprop": {    # the hidden layer's sigmoid derivative forgotten
        "backward": [("d_z1 = d_a1 * a1 * (1.0 - a1)", "d_z1 = d_a1")],
    },
    "ps4_modules": {
        "MultivariateLinearRegressionModel": [("        return self.linear(x)\n",
                                               "        return self.linear(x).squeeze(-1)\n")],
    },
    "ps5_mnist_cnn": {   # padding counted once
        "conv_output_size": [("return (in_size + 2 * padding - kernel_size) // stride + 1",
                              "return (in_size + padding - kernel_size) // stride + 1")],
    },
}


def main(*, jobs: int = 2, assignments: list[str] | None = None,
         course: Course | None = None, unsandboxed: bool = False) -> int:
    from .autograde import main as autograde
    from .release import main as release
    from .report.table import render

    course = course or Course.from_env()
    names = assignments or [a for a in PROBLEM_SETS if course.source_notebook(a).exists()]
    if release(assignments=names, course=course):
        return 1
    for ps in names:
        for student, kwargs in (("demo-reference", {}), ("demo-blank", {"answers": "blank"}),
                                ("demo-partial", {"substitutions": PARTIAL.get(ps, {})})):
            write_submission(build_submission(ps, course=course, **kwargs), course.root, student, ps)
    status = 0
    for ps in names:
        print(f"\n== {ps}")
        status |= autograde(assignment=ps, jobs=jobs, course=course, unsandboxed=unsandboxed)
    print("\n== grade table (from the gradebook)")
    print(render(("student", *names, "total"), _gradebook_rows(course, names)))
    return status


def _gradebook_rows(course: Course, names: list[str]) -> list[tuple]:
    from nbgrader.api import Gradebook, MissingEntry

    from .autograde.nbgrader_api import make_api

    warnings.filterwarnings("ignore", module="nbgrader")
    api = make_api(course.root)
    rows = []
    with Gradebook(api.coursedir.db_url, course_id=api.coursedir.course_id) as gb:
        for student in sorted(s.id for s in gb.students):
            row: list[object] = [student]
            total = maximum = 0.0
            for ps in names:
                try:
                    sub = gb.find_submission(ps, student)
                    row.append(f"{sub.score:g}/{sub.max_score:g}")
                    total, maximum = total + sub.score, maximum + sub.max_score
                except MissingEntry:
                    row.append("-")
            row.append(f"{total:g}/{maximum:g}")
            rows.append(tuple(row))
    return rows
