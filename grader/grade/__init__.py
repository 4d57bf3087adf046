"""Grade one notebook: run it in a worker, then run public and hidden tests against it."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from ..config import Settings
from ..course import grade_ids_of, identify_notebook, resolve_assignment


def main(*, path: Path, assignment: str | None = None, json_out: Path | None = None,
         junit_out: Path | None = None, summary_out: Path | None = None, device: str = "auto",
         fail_under: float | None = None, quiet: bool = False, unsandboxed: bool = False,
         settings: Settings | None = None) -> int:
    """``python -m grader grade``: 0 when grading completed, 1 under ``--fail-under``, 2 on bad input.

    Without ``assignment`` the set is read off the notebook's cells; with one that the
    notebook plainly is not (none of its graded cells belong to it), grading stops and names
    the set it looks like instead of scoring 0. A student's own check may run where
    bubblewrap is missing (a laptop): it does, and says so on stderr, in the table and in
    the JSON (``extra_data.sandboxed``).
    """
    from ..report.gradescope import gradescope_json
    from ..report.junit import write_junit
    from ..report.markdown import markdown_summary
    from ..report.table import result_table
    from ..sandbox import isolation
    from .runner import grade_notebook

    path = Path(path)
    if not path.exists():
        print(f"error: no such notebook: {path}", file=sys.stderr)
        return 2
    settings = settings or Settings.from_env()
    looks_like = identify_notebook(path, settings.course)
    if assignment is None:
        if looks_like is None:
            print(f"error: {path} has no graded cell of any problem set of this course; "
                  "pass --assignment psN", file=sys.stderr)
            return 2
        assignment = looks_like
    else:
        assignment = resolve_assignment(assignment, settings.course)
        if looks_like is not None and looks_like != assignment:
            ours = grade_ids_of(settings.course.source_notebook(assignment))
            if not grade_ids_of(path) & ours:
                print(f"error: {path} looks like {looks_like}, not {assignment} (none of its "
                      f"graded cells belong to {assignment}); pass --assignment "
                      f"{looks_like.split('_', 1)[0]} or leave --assignment out", file=sys.stderr)
                return 2
    sandbox = not unsandboxed
    if sandbox and not isolation.available():
        print(f"WARNING: grading WITHOUT the sandbox: {isolation.probe()}", file=sys.stderr)
        sandbox = False
    with _progress(f"{path.name} as {assignment}", quiet) as step:
        result = grade_notebook(path, assignment, device=device, settings=settings,
                                sandbox=sandbox, progress=step)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(gradescope_json(result), indent=2) + "\n")
    if junit_out is not None:
        write_junit(result, junit_out)
    if summary_out is not None:   # appended: CI job summaries collect several steps
        summary_out.parent.mkdir(parents=True, exist_ok=True)
        with open(summary_out, "a", encoding="utf-8") as fh:
            fh.write(markdown_summary(result, fail_under=fail_under))
    if not quiet:
        print(result_table(result))
    if fail_under is not None and result.percent < fail_under:
        print(f"score {result.percent:.1f}% is under --fail-under {fail_under:g}%", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _progress(label: str, quiet: bool):
    """A progress bar on stderr: which step of the grading runs now, and how many remain."""
    from tqdm import tqdm

    bar = tqdm(total=1, desc=f"grading {label}", unit="step", disable=quiet, file=sys.stderr,
               bar_format="{desc}: {n_fmt}/{total_fmt} [{elapsed}]{postfix}")

    def step(done: int, total: int, what: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(what[:60])

    try:
        yield step
    finally:
        bar.close()
