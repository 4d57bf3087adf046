"""nbgrader's own API, configured from the course's ``nbgrader_config.py``."""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader


def load_config(root: Path, overrides: Config | None = None) -> Config:
    config = Config()
    cfg_file = root / "nbgrader_config.py"
    if cfg_file.exists():
        config.merge(PyFileConfigLoader(cfg_file.name, path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    if overrides is not None:
        config.merge(overrides)
    return config


def make_api(root: Path, overrides: Config | None = None):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root, overrides)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir, config=config)


def autograde_config(results_dir: Path) -> Config:
    """Autograde without executing anything: our trusted results replace nbgrader's Execute."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from .preprocessor import ApplyGraderResults

    c = Config()
    c.Autograde.autograde_preprocessors = [
        ApplyGraderResults, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
    ]
    c.ApplyGraderResults.results_dir = str(results_dir)
    return c
