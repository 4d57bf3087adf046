"""Write notebooks in one canonical form: no outputs, sorted keys, stable ids.

Committed notebooks go through this so that diffs show only what an author changed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}


def _stable_id(index: int, cell: NotebookNode) -> str:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return (gid or f"cell-{index}").replace("_", "-")[:64]


def normalized(nb: NotebookNode) -> NotebookNode:
    """Return ``nb`` with outputs, execution counts and volatile metadata removed."""
    nb = nbformat.from_dict(nb)
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
        for key in ("collapsed", "scrolled", "execution", "ExecuteTime"):
            cell.metadata.pop(key, None)
        cid = _stable_id(i, cell)
        while cid in seen:
            cid = f"{cid}-{i}"
        seen.add(cid)
        cell.id = cid
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def dumps(nb: NotebookNode) -> str:
    return nbformat.writes(normalized(nb)) + "\n"


def normalize_file(path: Path) -> bool:
    """Normalise ``path`` in place; return True when it changed."""
    before = path.read_text(encoding="utf-8")
    after = dumps(nbformat.reads(before, as_version=4))
    if after != before:
        path.write_text(after, encoding="utf-8")
        return True
    return False


def main(*, paths: list[Path] | None = None, check: bool = False) -> int:
    """``python -m grader normalize [--check] [PATHS]`` (default: every source notebook)."""
    from .. import REPO_ROOT

    files: list[Path] = []
    for p in paths or [REPO_ROOT / "source"]:
        files.extend(sorted(p.rglob("*.ipynb")) if p.is_dir() else [p])
    files = [f for f in files if ".ipynb_checkpoints" not in f.parts]
    changed = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        if dumps(nbformat.reads(text, as_version=4)) != text:
            changed.append(f)
            if not check:
                normalize_file(f)
    verb = "would change" if check else "normalised"
    for f in changed:
        print(f"{verb}: {f}")
    return 1 if (check and changed) else 0
