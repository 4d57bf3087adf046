"""nbgrader's own API, configured from the course's ``nbgrader_config.py``."""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .preprocessors import ADD_GUIDES, APPLY, RECORD, STRIP_GUIDES


class UnsafeConfig(RuntimeError):
    """The course's nbgrader_config.py would let nbgrader run student code in its own kernel."""


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


def _names(chain) -> list[str]:
    return [p if isinstance(p, str) else f"{p.__module__}.{p.__name__}" for p in chain]


def check_chain(config: Config, root: Path) -> None:
    """Refuse a course whose config does not route autograde and feedback through the grader.

    Without it nbgrader's default chain would execute submissions in its own kernel
    (no sandbox, no hidden tests) and overwrite the real grades.
    """
    chain = _names(config.Autograde.get("autograde_preprocessors", []))
    feedback = _names(config.GenerateFeedback.get("preprocessors", []))
    missing = [p for p in (APPLY, RECORD, ADD_GUIDES) if p not in chain]
    if missing or STRIP_GUIDES not in feedback or any(p.endswith(".Execute") for p in chain):
        raise UnsafeConfig(
            f"{root / 'nbgrader_config.py'} does not route nbgrader's autograde through the "
            "grader (Autograde.autograde_preprocessors must start with ApplyGraderResults and "
            "hold RecordHiddenScores and AddMarkingGuides; GenerateFeedback.preprocessors must "
            "start with StripMarkingGuides): copy those lines from this repository's "
            "nbgrader_config.py")
