"""What lint reports: one typed finding per mistake, each naming where it is and how to fix it.

A finding is data (not a printed line) so that tests can assert on the rule that fired and
the CLI can format every rule's findings the same way: file, cell, message, fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finding:
    """One authoring mistake.

    ``rule`` is a stable short name (tests and instructors grep for it); ``cell`` says which
    cell in the words an instructor can search for: its ``grade_id`` and its index.
    """

    rule: str
    file: Path
    cell: str
    message: str
    fix: str

    def format(self, root: Path | None = None) -> str:
        """``file: cell: [rule] message`` and an indented ``fix:`` line.

        >>> print(Finding("outputs-committed", Path("/c/a.ipynb"), "cell 3 (grade_id 'x')",
        ...               "has outputs", "run normalize").format(Path("/c")))
        a.ipynb: cell 3 (grade_id 'x'): [outputs-committed] has outputs
            fix: run normalize
        """
        shown = self.file
        if root is not None and self.file.is_absolute() and self.file.is_relative_to(root):
            shown = self.file.relative_to(root)
        where = f"{shown}: {self.cell}" if self.cell else f"{shown}"
        return f"{where}: [{self.rule}] {self.message}\n    fix: {self.fix}"


def cell_label(index: int, grade_id: str | None) -> str:
    """How a finding names a cell: its index in the notebook, and its ``grade_id`` if any.

    >>> cell_label(4, "one_hot"), cell_label(0, None)
    ("cell 4 (grade_id 'one_hot')", 'cell 0')
    """
    return f"cell {index} (grade_id {grade_id!r})" if grade_id else f"cell {index}"
