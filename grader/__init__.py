"""The course's private grading package.

Pipeline, one subpackage per step: ``notebooks`` (read, restore and normalise nbgrader
notebooks), ``data`` (MNIST), ``sandbox`` (the worker that runs student code and the
trust boundary), ``hidden`` (hidden tests per problem set), ``grade`` (one notebook),
``autograde`` (a course batch into nbgrader's gradebook), ``report`` (JSON, JUnit, tables).
"""

from pathlib import Path

__version__ = "0.1.0"

# This checkout: the default course directory, and where the reference notebooks live.
REPO_ROOT = Path(__file__).resolve().parent.parent

PROBLEM_SETS: tuple[str, ...] = (
    "ps1_tensors",
    "ps2_gradients",
    "ps3_backprop",
    "ps4_modules",
    "ps5_mnist_cnn",
)
