"""The course's private grading package.

A stack of layers, each importing only from below (docs/architecture.md): ``faults`` (what
can go wrong with student code), ``sandbox`` (the worker that runs student code: the trust
boundary), ``results``, ``notebooks`` (read, restore and normalise nbgrader notebooks),
``data`` (MNIST), ``course`` and ``config`` (a run's settings, profiles), ``hidden``
(hidden tests per problem set and their API), ``report`` (presentation), ``grade`` (one
notebook), ``autograde`` (a course batch into nbgrader's gradebook), then the verbs.
"""

from pathlib import Path

__version__ = "0.1.0"

# This checkout: the default course directory, and where the reference notebooks live.
# The problem sets are not listed here: a course has the sets its source/ holds
# (``course.Course.problem_sets``), each with hidden tests in ``hidden/<set>/``.
REPO_ROOT = Path(__file__).resolve().parent.parent
