"""What each part of the package may import (issue 16; docs/architecture.md).

The package is a stack of layers. A module may import from its own top-level unit and from
any unit in a lower layer, never from a unit beside it or above it: so the import graph has
no cycle and no arrow that runs back up, and a new engineer knows from the table what a
change can touch. The worker's own files, which run inside the sandbox, import nothing of
the package at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

from grader.sandbox.client import WORKER_FILES

# Lowest first. Each name is a top-level unit of the package (a module or a subpackage).
LAYERS: list[tuple[str, ...]] = [
    ("grader", "grader.faults"),        # the package's constants; what can go wrong
    ("grader.sandbox",),                # the trust boundary
    ("grader.results", "grader.notebooks", "grader.data", "grader.baselines"),
    ("grader.course",),
    ("grader.config",),                 # Settings, profiles, limits: what a run is given
    ("grader.hidden", "grader.report", "grader.samples"),
    ("grader.grade",),                  # one notebook
    ("grader.autograde",),              # a course batch and nbgrader's gradebook
    ("grader.release", "grader.lint", "grader.scaffold"),  # verbs on the course's authoring
    ("grader.demo",),
    ("grader.cli",),
    ("grader.__main__",),
]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}
PACKAGE = ROOT / "grader"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """The top-level unit a module (or a name imported from the package) belongs to.

    >>> unit_of("grader.grade.runner"), unit_of("grader"), unit_of("grader.REPO_ROOT")
    ('grader.grade', 'grader', 'grader')
    """
    parts = module.split(".")
    if len(parts) > 1 and not ((PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").exists()):
        return "grader"   # a constant of the package itself (REPO_ROOT)
    return ".".join(parts[:2])


def imports_of(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """Every module of the package that ``path`` imports (anywhere in it), with its line.

    >>> from pathlib import Path
    >>> sorted(m for _, m in imports_of(PACKAGE / "report" / "gradescope.py"))
    ['grader.results']
    """
    module, is_package = module or module_name(path), path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:   # from . import x: x may be a module or a name
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "grader":
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "grader"]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_unit_of_the_package_has_a_layer():
    units = {unit_of(module_name(p)) for p in MODULES}
    assert units - set(LAYER) == set(), "place the new unit in LAYERS (and docs/architecture.md)"
    assert set(LAYER) - units == set(), "a layer names a unit that no longer exists"


def violations(path: Path, module: str | None = None) -> list[str]:
    """The imports of one file that do not run down the layers."""
    module = module or module_name(path)
    here, found = unit_of(module), []
    for line, target in imports_of(path, module):
        there = unit_of(target)
        if there != here and not LAYER[there] < LAYER[here]:
            found.append(f"{path.name}:{line} imports {target}: {there} is not below {here}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_only_run_down_the_layers(path):
    assert violations(path) == [], "see LAYERS here and docs/architecture.md"


def test_an_import_up_or_sideways_is_caught(tmp_path):
    up = tmp_path / "table.py"
    up.write_text("from ..grade.runner import grade_notebook\nfrom ..results import GradeResult\n")
    assert violations(up, "grader.report.table") == [
        "table.py:1 imports grader.grade.runner: grader.grade is not below grader.report"]
    sideways = tmp_path / "x.py"
    sideways.write_text("def f():\n    from grader.report import table\n")
    assert len(violations(sideways, "grader.hidden.x")) == 1   # inside a function too


def test_the_hidden_tests_never_see_the_transport():
    # They work through hidden.api (a context, the worker's few extra services, the faults),
    # so a change to the sandbox cannot reach into a hidden test, nor a hidden test into it.
    for path in sorted((PACKAGE / "hidden").rglob("*.py")):
        sandbox = [f"{path.relative_to(ROOT)}:{line} imports {t}" for line, t in imports_of(path)
                   if unit_of(t) == "grader.sandbox"]
        assert sandbox == []


@pytest.mark.parametrize("name", WORKER_FILES)
def test_the_workers_files_import_nothing_of_the_package(name):
    path = PACKAGE / "sandbox" / name
    outside = [(line, t) for line, t in imports_of(path)
               if t.split(".")[0] == "grader" and f"{t.rsplit('.', 1)[-1]}.py" not in WORKER_FILES]
    assert outside == [], f"{name} runs inside the sandbox, where the package does not exist"


def test_the_helpers_examples_hold():
    import doctest
    import sys

    assert doctest.testmod(sys.modules[__name__]).failed == 0
