"""The CI templates in deploy/ci: they parse, and their grading lines, run as they stand,
exit as each CI system expects for a passing and a failing notebook.

Every template calls ``deploy/ci/grade.sh`` in one line; the slow tests take that line out
of the parsed file and run it the way its CI system would: GitHub Actions with
``bash --noprofile --norc -eo pipefail`` (``shell: bash``), GitLab with
``bash -eo pipefail``, GitHub Classroom's graders with ``/bin/sh`` and only PATH and HOME
(plus FORCE_COLOR and DOTNET_*) in the environment. ``${{ vars.X || 'default' }}`` is
filled in as Actions would, with GRADER_HOME set to this checkout. The working directory is
a scratch "student repository" holding one notebook.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "deploy" / "ci"
GRADE_SH = "deploy/ci/grade.sh"
DEFAULT_HOME = "/opt/dl-course"
PASS_PERCENT = "60"

# What the runner's variables hold in these tests (GitHub `vars`, GitLab CI/CD variables).
VARS = {"GRADER_HOME": str(ROOT), "PASS_PERCENT": PASS_PERCENT}

# Variables grade.sh reads: the tests' own environment must not leak them in.
SCRIPT_VARS = ("NOTEBOOK", "ASSIGNMENT", "PASS_PERCENT", "OUT_DIR", "SUMMARY", "DEVICE",
               "GRADER_HOME", "GRADER_PYTHON", "GITHUB_STEP_SUMMARY")

SCORE_LINE = re.compile(r"^### ps1_tensors: [\d.]+ / [\d.]+ points \([\d.]+%\)$", re.M)


def load_yaml(name: str) -> dict:
    return yaml.safe_load((CI / name).read_text())


def load_json(name: str) -> dict:
    return json.loads((CI / name).read_text())


def triggers(workflow: dict) -> dict | list:
    # YAML 1.1 (PyYAML) reads a bare `on:` key as True; GitHub reads it as "on".
    return workflow["on"] if "on" in workflow else workflow[True]


EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
VARS_OR_DEFAULT = re.compile(r"vars\.(\w+)(?:\s*\|\|\s*'([^']*)')?")


def expand(text: str, variables: dict[str, str]) -> str:
    """GitHub's ``${{ }}`` substitution for the one form the grading lines use."""

    def one(m: re.Match) -> str:
        form = VARS_OR_DEFAULT.fullmatch(m.group(1))
        assert form, f"an expression the test cannot evaluate: {m.group(0)}"
        return variables.get(form[1]) or (form[2] or "")

    return EXPRESSION.sub(one, str(text))


def runner_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_VARS}
    env.update(extra)
    return env


def classroom_env(**extra: str) -> dict[str, str]:
    """What Classroom's graders hand the command (autograding-command-grader's `env`)."""
    env = {"PATH": os.environ["PATH"], "FORCE_COLOR": "true", "DOTNET_CLI_HOME": "/tmp",
           "DOTNET_NOLOGO": "true", "HOME": os.environ.get("HOME", "/tmp")}
    env.update(extra)
    return env


# --- structure ----------------------------------------------------------------------------


def gha_job() -> dict:
    wf = load_yaml("github-actions-grade.yml")
    (job,) = wf["jobs"].values()
    return job


def gha_grading_step(job: dict) -> dict:
    (step,) = [s for s in job["steps"] if GRADE_SH in str(s.get("run", ""))]
    return step


def test_github_actions_workflow_shape():
    wf = load_yaml("github-actions-grade.yml")
    on = triggers(wf)
    for event in ("push", "pull_request"):
        assert "**.ipynb" in on[event]["paths"]
    job = gha_job()
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    assert "vars.GRADER_HOME" in job["env"]["GRADER_HOME"]
    assert DEFAULT_HOME in job["env"]["GRADER_HOME"]
    assert job["defaults"]["run"]["shell"] == "bash"
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/checkout@") for u in uses)
    grading = gha_grading_step(job)
    assert "\n" not in grading["run"].strip()
    assert job["steps"].index(grading) < len(job["steps"]) - 1
    (upload,) = [s for s in job["steps"] if s.get("uses") == "actions/upload-artifact@v4"]
    assert "always()" in upload["if"]
    assert set(upload["with"]["path"].split()) == {"results.json", "junit.xml"}
    # the step's summary goes to $GITHUB_STEP_SUMMARY: nothing may redirect it
    assert "SUMMARY" not in job["env"] and "SUMMARY" not in grading.get("env", {})


def test_gitlab_job_shape():
    (job,) = load_yaml("gitlab-ci.yml").values()
    assert "gpu" in job["tags"]
    (line,) = [s for s in job["script"] if GRADE_SH in s]
    assert "\n" not in line.strip()
    assert job["variables"]["GRADER_HOME"] == DEFAULT_HOME
    art = job["artifacts"]
    assert art["when"] == "always"
    assert art["reports"]["junit"] == "junit.xml"
    assert {"results.json", "junit.xml", job["variables"]["SUMMARY"]} <= set(art["paths"])


def test_classroom_autograding_json_shape():
    (t,) = load_json("classroom-autograding.json")["tests"]
    assert set(t) == {"name", "setup", "run", "input", "output", "comparison", "timeout",
                      "points"}
    assert GRADE_SH in t["run"] and "\n" not in t["run"]
    assert f"${{GRADER_HOME:-{DEFAULT_HOME}}}" in t["run"]
    # empty expected output, `included`: the test passes exactly when the command exits 0
    assert t["output"] == "" and t["comparison"] == "included"
    assert isinstance(t["timeout"], int) and 0 < t["timeout"] <= 60
    assert isinstance(t["points"], int) and t["points"] > 0


def classroom_steps() -> tuple[dict, dict, list[dict]]:
    wf = load_yaml("github-classroom.yml")
    (job,) = wf["jobs"].values()
    (grader,) = [s for s in job["steps"]
                 if s.get("uses") == "classroom-resources/autograding-command-grader@v1"]
    (reporter,) = [s for s in job["steps"]
                   if s.get("uses") == "classroom-resources/autograding-grading-reporter@v1"]
    return grader, reporter, job["steps"]


def test_classroom_workflow_shape():
    wf = load_yaml("github-classroom.yml")
    assert "push" in triggers(wf)
    (job,) = wf["jobs"].values()
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    grader, reporter, steps = classroom_steps()
    inputs = grader["with"]
    assert {"test-name", "command", "timeout", "max-score"} <= set(inputs)
    assert GRADE_SH in inputs["command"] and "\n" not in inputs["command"]
    assert int(inputs["timeout"]) <= 60 and int(inputs["max-score"]) > 0
    rid = grader["id"]
    assert reporter["with"]["runners"] == rid
    assert reporter["env"][f"{rid.upper()}_RESULTS"] == f"${{{{ steps.{rid}.outputs.result }}}}"
    assert steps.index(grader) < steps.index(reporter)
    (upload,) = [s for s in steps if s.get("uses") == "actions/upload-artifact@v4"]
    assert "always()" in upload["if"]


def test_grade_sh_parses():
    subprocess.run(["bash", "-n", str(CI / "grade.sh")], check=True)


def test_expand_fills_vars_and_defaults():
    line = "X=${{ vars.A || '1' }} ${{ vars.B || 'two' }} ${{ vars.C }}"
    assert expand(line, {"A": "9"}) == "X=9 two "
    with pytest.raises(AssertionError):
        expand("${{ secrets.TOKEN }}", {})


# --- what the grading lines do ------------------------------------------------------------


@dataclass
class Invocation:
    argv: list[str]
    env: dict[str, str]
    summary: Path | None = None  # where the Markdown summary should land
    artifacts: list[str] = field(default_factory=lambda: ["results.json", "junit.xml"])


def github_actions(repo: Path, tmp: Path) -> Invocation:
    job = gha_job()
    summary = tmp / "step_summary.md"
    summary.touch()  # the runner creates it empty for each step
    env = runner_env(GITHUB_ACTIONS="true", CI="true", GITHUB_WORKSPACE=str(repo),
                     GITHUB_STEP_SUMMARY=str(summary))
    env.update({k: expand(v, VARS) for k, v in job["env"].items()})
    cmd = expand(gha_grading_step(job)["run"], VARS)
    return Invocation(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", cmd], env,
                      summary)


def gitlab(repo: Path, tmp: Path) -> Invocation:
    (job,) = load_yaml("gitlab-ci.yml").values()
    env = runner_env(GITLAB_CI="true", CI="true", CI_PROJECT_DIR=str(repo))
    env.update({k: str(v) for k, v in job["variables"].items()})
    env["GRADER_HOME"] = VARS["GRADER_HOME"]  # a project CI/CD variable overrides the file's
    script = "\n".join(job["script"])
    return Invocation(["bash", "-eo", "pipefail", "-c", script], env,
                      repo / job["variables"]["SUMMARY"], list(job["artifacts"]["paths"]))


def classroom_json(repo: Path, tmp: Path) -> Invocation:
    (t,) = load_json("classroom-autograding.json")["tests"]
    # GRADER_HOME stands in for the runner's /opt/dl-course: Classroom passes no variables
    return Invocation(["/bin/sh", "-c", t["run"]], classroom_env(GRADER_HOME=str(ROOT)))


def classroom_workflow(repo: Path, tmp: Path) -> Invocation:
    grader, _, _ = classroom_steps()
    return Invocation(["/bin/sh", "-c", expand(grader["with"]["command"], VARS)],
                      classroom_env())


TEMPLATES = {"github-actions": github_actions, "gitlab": gitlab,
             "classroom-json": classroom_json, "classroom-workflow": classroom_workflow}


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> dict[str, Path]:
    from grader.samples import build_submission

    out = tmp_path_factory.mktemp("notebooks")
    paths = {}
    for answers in ("reference", "blank"):
        paths[answers] = out / answers / "ps1_tensors.ipynb"
        paths[answers].parent.mkdir()
        nbformat.write(build_submission("ps1_tensors", answers=answers), paths[answers])
    return paths


def student_repo(tmp_path: Path, notebook: Path | None) -> Path:
    repo = tmp_path / "student-repo"
    repo.mkdir()
    if notebook is not None:
        (repo / notebook.name).write_bytes(notebook.read_bytes())
    # a decoy package where `python -m grader` would find it first without -P
    decoy = repo / "grader"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("")
    (decoy / "__main__.py").write_text("print('DECOY GRADER'); raise SystemExit(0)\n")
    return repo


@pytest.mark.slow
@pytest.mark.parametrize("answers", ["reference", "blank"])
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_grading_line_exits_as_expected(template, answers, notebooks, tmp_path):
    repo = student_repo(tmp_path, notebooks[answers])
    inv = TEMPLATES[template](repo, tmp_path)
    proc = subprocess.run(inv.argv, env=inv.env, cwd=repo, capture_output=True, text=True,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert "DECOY GRADER" not in log
    if answers == "reference":
        assert proc.returncode == 0, log
    else:
        assert proc.returncode == 1, log  # graded, under PASS_PERCENT
        assert f"under {PASS_PERCENT}%" in log

    for name in inv.artifacts:
        assert (repo / name).is_file(), f"{name} missing after {template}\n{log}"
    results = json.loads((repo / "results.json").read_text())
    assert results["max_score"] > 0
    full = results["score"] == results["max_score"]
    assert full if answers == "reference" else results["score"] == 0
    suite = ET.parse(repo / "junit.xml").getroot()
    assert suite.tag in ("testsuite", "testsuites")
    failures = sum(int(s.get("failures", 0)) for s in suite.iter("testsuite"))
    assert (failures == 0) if answers == "reference" else failures > 0

    if inv.summary is not None:
        text = inv.summary.read_text()
        assert SCORE_LINE.search(text), text
        assert ("**passed**" if answers == "reference" else "**failed**") in text


def run_grade_sh(repo: Path, summary: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CI / "grade.sh")], cwd=repo, capture_output=True,
                          text=True, env=runner_env(GITHUB_STEP_SUMMARY=str(summary)))


def test_no_notebook_is_bad_input(tmp_path):
    repo = student_repo(tmp_path, None)
    proc = run_grade_sh(repo, tmp_path / "summary.md")
    assert proc.returncode == 2
    assert "found 0" in proc.stderr
    assert "not graded" in (tmp_path / "summary.md").read_text()


def test_two_notebooks_need_NOTEBOOK(tmp_path):
    repo = student_repo(tmp_path, None)
    for name in ("a.ipynb", "b.ipynb"):
        (repo / name).write_text("{}")
    proc = run_grade_sh(repo, tmp_path / "summary.md")
    assert proc.returncode == 2
    assert "found 2" in proc.stderr and "set NOTEBOOK" in proc.stderr
