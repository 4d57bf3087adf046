"""The main job (python -m grader demo) and the sample submissions it builds."""

from __future__ import annotations

import pytest
from conftest import make_course, present_sets, settings_for

from grader.course import Course
from grader.demo import PARTIAL
from grader.demo import main as demo
from grader.samples import StaleMutation, build_submission, mutate


@pytest.mark.parametrize("ps", present_sets())
def test_demo_mistakes_still_apply_to_the_reference(ps):
    build_submission(ps, substitutions=PARTIAL[ps])


def test_a_stale_mutation_fails_loudly():
    with pytest.raises(StaleMutation):
        mutate("return x + 1", [("return x - 1", "return x")], "ps0/f")


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_prints_the_grade_table(tmp_path, capsys):
    course = Course(make_course(tmp_path / "course", ["ps1_tensors"]))
    assert demo(jobs=2, assignments=["ps1_tensors"], settings=settings_for(course)) == 0
    out = capsys.readouterr().out
    table = out[out.index("grade table"):]
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[3:] if line.strip()}
    assert rows["demo-reference"] == "33/33"
    assert rows["demo-blank"] == "0/33"
    partial = float(rows["demo-partial"].split("/")[0])
    assert 0 < partial < 33
    # the demo lives in its own throwaway course: the real one gains no gradebook, no
    # submissions, no release (issue 11: demo students polluted export and release_feedback)
    assert not (course.root / "gradebook.db").exists()
    assert not (course.root / "submitted").exists() and not (course.root / "release").exists()
    demo_root = course.root / "out" / "demo"
    assert (demo_root / "gradebook.db").exists()
    assert (demo_root / "feedback" / "demo-blank" / "ps1_tensors" / "ps1_tensors.html").exists()


@pytest.mark.slow
def test_demo_reference_answers_the_written_question_which_waits_for_a_person(tmp_path, capsys):
    course = Course(make_course(tmp_path / "course", ["ps2_gradients"]))
    assert demo(jobs=2, assignments=["ps2"], settings=settings_for(course)) == 0
    out = capsys.readouterr().out
    table = out[out.index("grade table"):]
    ref = next(line for line in table.splitlines() if line.startswith("demo-reference"))
    assert "29/35 (6 to grade by hand)" in ref, ref
    submitted = (course.root / "out" / "demo" / "submitted" / "demo-reference" / "ps2_gradients"
                 / "ps2_gradients.ipynb").read_text()
    assert "28}{3}" in submitted and "Marking guide" not in submitted
