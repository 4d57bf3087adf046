"""Grade one notebook: run it in a worker, then run public and hidden tests against it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..course import check_assignment


def main(*, path: Path, assignment: str, json_out: Path | None = None,
         junit_out: Path | None = None, device: str = "auto",
         fail_under: float | None = None, quiet: bool = False, unsandboxed: bool = False) -> int:
    """``python -m grader grade``: 0 when grading completed, 1 under ``--fail-under``.

    A student's own check may run where bubblewrap is missing (a laptop): it does, and says
    so on stderr, in the table and in the JSON (``extra_data.sandboxed``).
    """
    from ..report.junit import write_junit
    from ..report.table import result_table
    from ..sandbox import isolation
    from .runner import grade_notebook

    check_assignment(assignment)
    if not Path(path).exists():
        print(f"error: no such notebook: {path}", file=sys.stderr)
        return 2
    sandbox = not unsandboxed
    if sandbox and not isolation.available():
        print(f"WARNING: grading WITHOUT the sandbox: {isolation.probe()}", file=sys.stderr)
        sandbox = False
    result = grade_notebook(path, assignment, device=device, sandbox=sandbox)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_gradescope(), indent=2) + "\n")
    if junit_out is not None:
        write_junit(result, junit_out)
    if not quiet:
        print(result_table(result))
    if fail_under is not None and result.percent < fail_under:
        print(f"score {result.percent:.1f}% is under --fail-under {fail_under:g}%", file=sys.stderr)
        return 1
    return 0
