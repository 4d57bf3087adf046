"""The batch hands its results to nbgrader's chain in memory, for exactly the graded notebook."""

from __future__ import annotations

from grader.autograde.batch import handed_result, handing_over, task_for
from grader.course import Course
from grader.results import GradeResult


def test_the_chain_gets_the_result_of_this_very_submission_while_it_is_handed_over(tmp_path):
    course = Course(tmp_path)
    task = task_for(course, "ps1_tensors", "ada")
    task.notebook.parent.mkdir(parents=True)
    task.notebook.write_text('{"cells": []}')
    result = GradeResult("ps1_tensors", task.notebook.name, student="ada",
                         submission_sha256=task.digest())
    assert handed_result(task, course, "ps1_tensors") is None
    with handing_over(course, "ps1_tensors", {"ada": result}):
        assert handed_result(task, course, "ps1_tensors") is result
        assert handed_result(task, Course(tmp_path / "other"), "ps1_tensors") is None
        task.notebook.write_text('{"cells": [], "changed": true}')   # resubmitted meanwhile
        assert handed_result(task, course, "ps1_tensors") is None
    assert handed_result(task, course, "ps1_tensors") is None
