"""Issue 15: the grader finds problem sets in ``source/`` and their hidden tests by
convention, so a new set is a new folder (and a hidden-test package), not a grader edit."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, make_course

from grader import cli
from grader.course import Course, UnknownAssignment, resolve_assignment
from grader.hidden import NoHiddenTests, hidden_tests_for


@pytest.fixture
def course(tmp_path) -> Path:
    """ps1 plus a sixth set ``ps6_extra`` (a copy of ps1's notebook) that has no hidden tests."""
    make_course(tmp_path, ["ps1_tensors"])
    (tmp_path / "source" / "ps6_extra").mkdir()
    shutil.copy2(ROOT / "source" / "ps1_tensors" / "ps1_tensors.ipynb",
                 tmp_path / "source" / "ps6_extra" / "ps6_extra.ipynb")
    (tmp_path / "source" / "notes").mkdir()   # a folder without its notebook is no set
    return tmp_path


def test_the_sets_are_the_source_folders(course):
    assert Course(course).problem_sets() == ("ps1_tensors", "ps6_extra")
    assert Course(ROOT).problem_sets() == ("ps1_tensors", "ps2_gradients", "ps3_backprop",
                                           "ps4_modules", "ps5_mnist_cnn")


def test_full_and_short_names_resolve_against_the_course(course):
    assert resolve_assignment("ps6", Course(course)) == "ps6_extra"
    assert resolve_assignment("ps6_extra", Course(course)) == "ps6_extra"
    with pytest.raises(UnknownAssignment, match=r"unknown assignment .ps2.*ps6 \(ps6_extra\)"):
        resolve_assignment("ps2", Course(course))
    (course / "source" / "ps6_other").mkdir()
    shutil.copy2(course / "source" / "ps6_extra" / "ps6_extra.ipynb",
                 course / "source" / "ps6_other" / "ps6_other.ipynb")
    with pytest.raises(UnknownAssignment, match="ambiguous assignment 'ps6'"):
        resolve_assignment("ps6", Course(course))


def test_the_cli_accepts_a_new_set_by_its_short_name(course, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_COURSE_ROOT", str(course))
    assert cli.main(["lint", "ps6"]) == 1   # accepted (not 2); lint then names what is missing
    err = capsys.readouterr().err
    assert "[no-hidden-tests] ps6_extra has no hidden tests" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["lint", "ps2"])           # ps2 is not in this course
    assert exc.value.code == 2


def test_grading_a_set_without_hidden_tests_names_the_package_to_write(course, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_COURSE_ROOT", str(course))
    nb = course / "source" / "ps6_extra" / "ps6_extra.ipynb"
    assert cli.main(["grade", str(nb), "--assignment", "ps6", "--quiet"]) == 2
    assert "grader/hidden/ps6_extra/__init__.py exposing TESTS" in capsys.readouterr().err


def test_hidden_tests_are_found_by_convention():
    assert hidden_tests_for("ps1_tensors")
    with pytest.raises(NoHiddenTests, match=r"create .*grader/hidden/ps9_none/__init__\.py"):
        hidden_tests_for("ps9_none")


def _set_names_in(path: Path, sets: tuple[str, ...]) -> list[str]:
    """String constants in a module that are a set's full name."""
    return [f"{path.name}:{node.lineno} {node.value!r}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and node.value in sets]


def test_no_module_outside_a_sets_hidden_tests_names_a_set():
    sets = Course(ROOT).problem_sets()
    hidden = ROOT / "grader" / "hidden"
    named = [hit for path in sorted((ROOT / "grader").rglob("*.py"))
             if not any(path.is_relative_to(hidden / ps) for ps in sets)
             for hit in _set_names_in(path, sets)]
    assert named == []


def test_the_name_check_would_see_a_set_named_in_code(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text('"""ps1_tensors in prose is fine."""\nSETS = ("ps1_tensors",)\n')
    assert _set_names_in(bad, ("ps1_tensors",)) == ["probe.py:2 'ps1_tensors'"]
