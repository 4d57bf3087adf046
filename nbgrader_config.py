"""nbgrader configuration for the course.

Every path can be moved without editing this file:

- ``COURSE_ID``               course id used by the exchange (default ``intro-dl``)
- ``NBGRADER_EXCHANGE_ROOT``  where ``nbgrader release_assignment``/``submit`` exchange files
                              (default: nbgrader's own, as in ``deploy/student/nbgrader_config.py``)
- ``NBGRADER_DB_URL``         the gradebook (default: ``gradebook.db`` in the course root)

The grader (``python -m grader``) reads the same file, so instructors configure one place.
"""

import os

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "intro-dl")
c.CourseDirectory.root = HERE
c.CourseDirectory.db_url = os.environ.get(
    "NBGRADER_DB_URL", "sqlite:///" + os.path.join(HERE, "gradebook.db")
)
# Only the notebook travels with an assignment; data sets never do.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "data", "MNIST"]
# A submitted notebook is capped so that a copy of a test set cannot ride along inside it.
c.CourseDirectory.max_file_size = 5_000  # kilobytes, per file

c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/usr/local/share/nbgrader/exchange")
# Every student, whatever else is loaded: on JupyterHub an instructor's server may also
# read the students' configuration (deploy/student/), which names one student from
# JUPYTERHUB_USER; nbgrader loads this file (the course directory's) last, so collect,
# autograde and formgrader still see the whole class.
c.CourseDirectory.student_id = "*"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# PyTorch and NumPy print warnings on stderr (deprecations, CPU-only notices). nbgrader
# scores any stderr output in a test cell as a failure; drop warning lines instead so that
# library noise never costs a student points. Real errors are "error" outputs, not stderr.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning|warnings\.warn|UserWarning|FutureWarning|DeprecationWarning)"

# The student's own long training runs are skipped by the grader (cells tagged
# ``skip-when-grading`` and guarded by NBGRADER_EXECUTION); keep execution bounded anyway.
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True

c.Autograde.exclude_overwriting = {}

# Every autograde runs the course's grader, whoever starts it: `python -m grader autograde`
# (a class, in parallel), plain `nbgrader autograde` or formgrader's Autograde button (one
# submission at a time). Nothing of the student's runs in nbgrader's own kernel: the first
# preprocessor takes the sandboxed grader's result for this exact submission, grading it
# now in the sandbox if there is none, and refuses without bubblewrap. The hidden tests'
# scores go in right after SaveAutoGrades; written answers get the model answer and marking
# guide beside them for formgrader, and feedback drops those again.
c.Autograde.autograde_preprocessors = [
    "grader.autograde.preprocessors.apply_results.ApplyGraderResults",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "grader.autograde.preprocessors.record_scores.RecordHiddenScores",
    "nbgrader.preprocessors.AssignLatePenalties",
    "grader.autograde.preprocessors.check_metadata.CheckCellMetadata",
    "grader.autograde.preprocessors.marking_guides.AddMarkingGuides",
]
# nbgrader's sanitising pass, as by default, with the same metadata check (nbgrader's,
# its schema checked once per notebook instead of once per cell: see check_metadata.py).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "grader.autograde.preprocessors.check_metadata.CheckCellMetadata",
]
c.GenerateFeedback.preprocessors = [
    "grader.autograde.preprocessors.marking_guides.StripMarkingGuides",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
