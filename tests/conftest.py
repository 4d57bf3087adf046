"""Shared fixtures: the course root, problem sets, and a scratch copy of the course."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.config import Settings
from grader.course import Course

ROOT = Path(__file__).resolve().parent.parent

# Notebook kernels started by the tests must not train (ps5's training cells check this).
os.environ.setdefault("NBGRADER_EXECUTION", "validate")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (runs on the GPU runner: scripts/gpu_check.sh)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def present_sets() -> list[str]:
    return list(Course(ROOT).problem_sets())


def settings_for(course) -> Settings:
    """The run's settings for a scratch course (the environment for everything else)."""
    return Settings.from_env(course=course)


def make_course(dest: Path, assignments: list[str] | None = None) -> Path:
    """A scratch nbgrader course: the real config and source notebooks, nothing else."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for ps in assignments or present_sets():
        shutil.copytree(ROOT / "source" / ps, dest / "source" / ps)
    return dest


@pytest.fixture
def warm():
    """Every sandboxed worker of the test is forked (launch waits for the pre-imported
    parent instead of starting the first worker from scratch meanwhile)."""
    from grader.sandbox import prefork

    before = prefork.WAIT
    prefork.WAIT = True
    yield
    prefork.WAIT = before
