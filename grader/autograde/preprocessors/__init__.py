"""nbgrader preprocessors that route nbgrader's own autograde and feedback through the grader.

``nbgrader_config.py`` names them in ``Autograde.autograde_preprocessors`` and
``GenerateFeedback.preprocessors``, so every entry point (``python -m grader autograde``,
plain ``nbgrader autograde``, formgrader's Autograde button, ``nbgrader generate_feedback``)
runs the same chain: nothing of the student's runs in nbgrader's kernel, and the hidden
tests' scores are written by one preprocessor per submission, right after nbgrader's
``SaveAutoGrades``. One class per file.
"""

APPLY = "grader.autograde.preprocessors.apply_results.ApplyGraderResults"
RECORD = "grader.autograde.preprocessors.record_scores.RecordHiddenScores"
ADD_GUIDES = "grader.autograde.preprocessors.marking_guides.AddMarkingGuides"
STRIP_GUIDES = "grader.autograde.preprocessors.marking_guides.StripMarkingGuides"


def course_of(preprocessor):
    """The course a preprocessor runs in: its ``course_root`` or nbgrader's ``CourseDirectory.root``."""
    from pathlib import Path

    from ...course import Course

    root = getattr(preprocessor, "course_root", "") or preprocessor.config.CourseDirectory.get("root") or "."
    return Course(Path(root).resolve())
